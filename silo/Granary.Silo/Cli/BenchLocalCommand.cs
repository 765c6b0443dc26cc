using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Granary.Engine;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary bench-local</c>: prefill speed of one sequence at several prompt lengths (llama-bench's pp128 and
/// pp512), then decode speed of the engine in this process at several batch sizes, with the bytes each step must
/// move and the share of the memory bandwidth limit it reaches.
/// </summary>
internal static class BenchLocalCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes", DefaultValueFactory = _ => "1,16" };
        var promptLength = new Option<int>("--prompt") { Description = "Prompt tokens per sequence", DefaultValueFactory = _ => 128 };
        var newTokens = new Option<int>("--new") { Description = "Tokens generated per sequence", DefaultValueFactory = _ => 128 };
        var prefill = new Option<string>("--prefill") { Description = "Comma-separated prompt lengths whose prefill of one sequence is timed (capped at the max model length)", DefaultValueFactory = _ => "128,512" };
        var rounds = new Option<int>("--rounds") { Description = "Prefills timed per prompt length (best and median reported)", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Also print the results as JSON" };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of untimed generation first, at batch 1 and 2, so that the .NET JIT has optimized the step's code", DefaultValueFactory = _ => 2 };
        var command = new Command("bench-local", "Measure prefill and decode speed in this process");
        common.AddTo(command);
        command.Options.Add(batches);
        command.Options.Add(promptLength);
        command.Options.Add(newTokens);
        command.Options.Add(prefill);
        command.Options.Add(rounds);
        command.Options.Add(json);
        command.Options.Add(warmup);
        command.SetAction((parse, cancellationToken) =>
        {
            int[] sizes = GenerateCommand.ParseIds(parse.GetValue(batches)!);
            int prompt = parse.GetValue(promptLength), generate = parse.GetValue(newTokens);
            int[] prefillLengths = GenerateCommand.ParseIds(parse.GetValue(prefill)!);
            int prefillRounds = parse.GetValue(rounds);
            if (prefillRounds < 1) throw new ArgumentException($"--rounds must be at least 1, got {prefillRounds}");
            if (parse.GetValue(warmup) < 0) throw new ArgumentException($"--warmup must be at least 0 seconds, got {parse.GetValue(warmup)}");
            using var loggers = CliLogging.Create();
            var options = common.Read(parse, maxBatchedTokens: 512, maxSequences: Math.Max(64, sizes.Max()));
            var stdout = parse.InvocationConfiguration.Output;
            int threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
            var (bandwidth, memory) = MeasureBandwidth(options.Device, threads);
            using var model = LocalModel.Load(parse.GetValue(common.Model)!, options, loggers);
            var modelSizes = Sizes.Of(model);
            string layout = model.Parallel is { } group ? $" as {group.Plan}" : "";
            // Tensor-parallel ranks on GPUs of their own read their weights at the same time: the floor divides by them.
            int readers = ParallelReaders(options.Device, model.Parallel?.Plan.TpSize ?? 1);
            if (readers > 1) (bandwidth, memory) = (bandwidth * readers, $"{readers} x {memory}");
            stdout.WriteLine($"model {model.Name}: {modelSizes.WeightBytes / 1e6:F1} MB of weights on {options.Device}{layout}; {memory} copy bandwidth {bandwidth:F1} GB/s");
            // Untimed runs first, so that kernel loading and library warm-up stay out of the numbers, and long enough
            // for the JIT to replace the step's first, unoptimized code (tier 0) with optimized code (tier 1).
            EngineWarmup.Run(model.Engine, model.Config.VocabSize, TimeSpan.FromSeconds(parse.GetValue(warmup)), cancellationToken);
            var results = new List<object>();
            var progress = new ProgressBar(parse.InvocationConfiguration.Error, "bench-local");
            var prompts = new Random(1234); // every prompt of the run from one generator: none is in the prefix cache
            stdout.WriteLine("prefill tokens | best tok/s | median tok/s | best ms");
            foreach (int length in prefillLengths)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var p = Prefill.Run(model.Engine, model.Config.VocabSize, length, prefillRounds, prompts);
                results.Add(p);
                string capped = p.Tokens < length ? $" (pp{length} capped at the max model length)" : "";
                stdout.WriteLine($"{p.Tokens,14} | {p.BestTokensPerSecond,10:F1} | {p.MedianTokensPerSecond,12:F1} | {p.Tokens / p.BestTokensPerSecond * 1000,7:F2}{capped}");
            }
            stdout.WriteLine("batch | prefill tok/s | decode ms/step | decode tok/s | MB moved/step | floor ms/step | GB/s | share of bandwidth floor | communication share | GPU idle between steps us (median, p90) | decode steps fed on the device");
            int measured = 0;
            foreach (int batch in sizes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var r = Run(model, modelSizes, batch, prompt, generate, bandwidth, prompts, (step, steps) =>
                    progress.Report(measured * (generate + 1) + step, sizes.Length * (generate + 1), $"batch {batch} ({measured + 1}/{sizes.Length}), step {step}/{steps}"));
                results.Add(r);
                measured++;
                progress.Report(measured, sizes.Length, $"batch {batch} measured ({measured}/{sizes.Length}): {r.DecodeMsPerStep:F3} ms/step", milestone: true);
                string communication = r.CommunicationShare is { } c ? c.ToString("P1") : "-";
                string idle = r.IdleGapUs is { } g ? $"{g.Median:F1}, {g.P90:F1}" : "-";
                stdout.WriteLine($"{batch,5} | {r.PrefillTokensPerSecond,13:F1} | {r.DecodeMsPerStep,14:F3} | {r.DecodeTokensPerSecond,12:F1} | {r.BytesPerStep / 1e6,13:F1} | {r.BytesPerStep / (bandwidth * 1e9) * 1000,13:F3} | {r.AchievedGBps,4:F1} | {r.ShareOfLimit,24:P1} | {communication} | {idle} | {r.FedSteps}/{r.DecodeSteps}");
            }
            if (parse.GetValue(json)) stdout.WriteLine(JsonSerializer.Serialize(results));
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The copy bandwidth of the memory the weights live in: host RAM, or the GPU's memory for cuda:N.</summary>
    private static (double GBps, string Memory) MeasureBandwidth(string device, int threads)
    {
        if (Granary.Cuda.CudaBackendOptions.Parse(device) is { } cuda)
        {
            using var backend = new Granary.Cuda.CudaBackend(cuda);
            return (backend.MeasureCopyBandwidthGBps(), $"{backend.DeviceName} device");
        }
        return (HostBandwidth.MeasureGBps(threads), $"host ({threads} threads)");
    }

    /// <summary>GPUs a step's tensor-parallel ranks read from at once (1 on the CPU, or when the ranks share a GPU).</summary>
    private static int ParallelReaders(string device, int tp) =>
        Granary.Cuda.CudaBackendOptions.Parse(device) is null ? 1 : Enumerable.Range(0, tp).Select(r => BackendFactory.RankDevice(device, r)).Distinct().Count();

    /// <param name="CommunicationShare">
    /// Share of the decode steps' wall time the ranks spent in collectives, averaged over the ranks (null for one rank;
    /// zero for NCCL unless GRANARY_TIME_COLLECTIVES=1 times it on the device).
    /// </param>
    /// <param name="IdleGapUs">
    /// Median and 90th percentile of the GPU's idle time between consecutive decode step graphs, timed by CUDA events
    /// (null off one CUDA rank): the host's share of the critical path.
    /// </param>
    /// <param name="FedSteps">Of the <paramref name="DecodeSteps"/>, those launched with their tokens fed on the device (<see cref="LlmEngine.FedSteps"/>).</param>
    private sealed record Result(int Batch, double PrefillTokensPerSecond, double DecodeMsPerStep, double DecodeTokensPerSecond, double BytesPerStep, double AchievedGBps, double ShareOfLimit, double? CommunicationShare, IdleGap? IdleGapUs, int DecodeSteps, long FedSteps);

    private sealed record IdleGap(double Median, double P90, int Gaps);

    /// <summary>What one step must read: every rank's weights once, and every rank's KV slice of each cached token.</summary>
    private readonly record struct Sizes(long WeightBytes, long KvBytesPerToken)
    {
        public static Sizes Of(LocalModel model) => model.Parallel is { } group
            ? new(group.Ranks.Sum(r => r.WeightBytes), group.Ranks.Sum(r => r.KvBytesPerToken))
            : new(model.Executor.Model.WeightBytes, model.Executor.KvBytesPerToken);
    }

    /// <param name="stepDone">Told (step, steps) after each engine step, for the progress bar.</param>
    private static Result Run(LocalModel model, Sizes sizes, int batch, int prompt, int generate, double bandwidthGBps, Random prompts, Action<int, int> stepDone)
    {
        var engine = model.Engine;
        var sequences = new List<Sequence>();
        for (int i = 0; i < batch; i++)
        {
            var ids = Enumerable.Range(0, prompt).Select(_ => prompts.Next(3, model.Config.VocabSize)).ToArray();
            sequences.Add(engine.Add(ids, new SamplingParams { Temperature = 0, MaxTokens = generate, IgnoreEos = true }));
        }
        var clock = Stopwatch.StartNew();
        while (sequences.Any(s => s.OutputLength == 0))
        {
            engine.Step();
            stepDone(0, generate);
        }
        double prefillSeconds = clock.Elapsed.TotalSeconds;

        var steps = new List<double>();
        double kvBytes = 0;
        var group = model.Parallel;
        var communicationBefore = group?.CommunicationTime ?? TimeSpan.Zero;
        var cuda = model.ModelExecutor is SingleRankExecutor { Backend: Granary.Cuda.CudaBackend single } ? single : null;
        cuda?.StartStepGapTiming();
        long fedBefore = engine.FedSteps;
        while (engine.HasWork)
        {
            kvBytes += sequences.Sum(s => (double)s.Length) * sizes.KvBytesPerToken;
            long start = Stopwatch.GetTimestamp();
            engine.Step();
            steps.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            stepDone(steps.Count, generate);
        }
        IdleGap? gap = null;
        if (cuda?.StopStepGapTiming() is { Length: > 0 } gaps)
        {
            Array.Sort(gaps);
            gap = new IdleGap(gaps[gaps.Length / 2], gaps[(int)(gaps.Length * 0.9)], gaps.Length);
        }
        steps.Sort();
        double median = steps[steps.Count / 2];
        // Per step every weight byte is read once and every cached key and value of the batch once.
        double bytes = sizes.WeightBytes + kvBytes / steps.Count;
        double gbps = bytes / (median / 1000) / 1e9;
        // The ranks' time in collectives during the decode steps, against the steps' wall time.
        double? communication = group is null ? null : (group.CommunicationTime - communicationBefore).TotalMilliseconds / steps.Sum();
        return new Result(batch, batch * prompt / prefillSeconds, median, batch / (median / 1000), bytes, gbps, gbps / bandwidthGBps, communication, gap, steps.Count, engine.FedSteps - fedBefore);
    }
}

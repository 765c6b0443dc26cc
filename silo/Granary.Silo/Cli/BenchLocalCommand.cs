using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Granary.Engine;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary bench-local</c>: decode speed of the engine in this process at several batch sizes, with
/// the bytes each step must move and the share of the memory bandwidth limit it reaches.
/// </summary>
internal static class BenchLocalCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var batches = new Option<string>("--batch") { Description = "Comma-separated batch sizes", DefaultValueFactory = _ => "1,16" };
        var promptLength = new Option<int>("--prompt") { Description = "Prompt tokens per sequence", DefaultValueFactory = _ => 128 };
        var newTokens = new Option<int>("--new") { Description = "Tokens generated per sequence", DefaultValueFactory = _ => 128 };
        var json = new Option<bool>("--json") { Description = "Also print the results as JSON" };
        var command = new Command("bench-local", "Measure prefill and decode speed in this process");
        common.AddTo(command);
        command.Options.Add(batches);
        command.Options.Add(promptLength);
        command.Options.Add(newTokens);
        command.Options.Add(json);
        command.SetAction((parse, cancellationToken) =>
        {
            int[] sizes = GenerateCommand.ParseIds(parse.GetValue(batches)!);
            int prompt = parse.GetValue(promptLength), generate = parse.GetValue(newTokens);
            using var loggers = CliLogging.Create();
            var options = common.Read(parse, maxBatchedTokens: 512, maxSequences: Math.Max(64, sizes.Max()));
            var stdout = parse.InvocationConfiguration.Output;
            int threads = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
            var (bandwidth, memory) = MeasureBandwidth(options.Device, threads);
            using var model = LocalModel.Load(parse.GetValue(common.Model)!, options, loggers);
            var executor = model.Executor;
            stdout.WriteLine($"model {model.Name}: {executor.Model.WeightBytes / 1e6:F1} MB of weights on {options.Device}; {memory} copy bandwidth {bandwidth:F1} GB/s");
            stdout.WriteLine("batch | prefill tok/s | decode ms/step | decode tok/s | MB moved/step | floor ms/step | GB/s | share of bandwidth floor");
            // One short run first, so that kernel loading, library warm-up and JIT stay out of the numbers.
            Run(model, executor, 1, Math.Min(prompt, 16), 4, bandwidth);
            var results = new List<object>();
            foreach (int batch in sizes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var r = Run(model, executor, batch, prompt, generate, bandwidth);
                results.Add(r);
                stdout.WriteLine($"{batch,5} | {r.PrefillTokensPerSecond,13:F1} | {r.DecodeMsPerStep,14:F3} | {r.DecodeTokensPerSecond,12:F1} | {r.BytesPerStep / 1e6,13:F1} | {r.BytesPerStep / (bandwidth * 1e9) * 1000,13:F3} | {r.AchievedGBps,4:F1} | {r.ShareOfLimit:P1}");
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

    private sealed record Result(int Batch, double PrefillTokensPerSecond, double DecodeMsPerStep, double DecodeTokensPerSecond, double BytesPerStep, double AchievedGBps, double ShareOfLimit);

    private static Result Run(LocalModel model, SingleRankExecutor executor, int batch, int prompt, int generate, double bandwidthGBps)
    {
        var engine = model.Engine;
        var random = new Random(1234);
        var sequences = new List<Sequence>();
        for (int i = 0; i < batch; i++)
        {
            var ids = Enumerable.Range(0, prompt).Select(_ => random.Next(3, model.Config.VocabSize)).ToArray();
            sequences.Add(engine.Add(ids, new SamplingParams { Temperature = 0, MaxTokens = generate, IgnoreEos = true }));
        }
        var clock = Stopwatch.StartNew();
        while (sequences.Any(s => s.OutputLength == 0)) engine.Step();
        double prefillSeconds = clock.Elapsed.TotalSeconds;

        var steps = new List<double>();
        double kvBytes = 0;
        while (engine.HasWork)
        {
            kvBytes += sequences.Sum(s => (double)s.Length) * executor.KvBytesPerToken;
            long start = Stopwatch.GetTimestamp();
            engine.Step();
            steps.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        steps.Sort();
        double median = steps[steps.Count / 2];
        // Per step every weight byte is read once and every cached key and value of the batch once.
        double bytes = executor.Model.WeightBytes + kvBytes / steps.Count;
        double gbps = bytes / (median / 1000) / 1e9;
        return new Result(batch, batch * prompt / prefillSeconds, median, batch / (median / 1000), bytes, gbps, gbps / bandwidthGBps);
    }
}

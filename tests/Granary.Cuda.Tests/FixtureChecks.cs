using Granary.Compute;
using Granary.Compute.Cpu;
using Granary.Engine;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Cuda.Tests;

/// <summary>
/// Each model folder on the CPU and the CUDA backend: the same greedy tokens (12 per prompt of the
/// fixture's reference.json, or one fixed prompt for a folder without one) and top-5 logprobs within
/// 2e-2; then all prompts batched with chunked prefill on CUDA give the same tokens again.
/// </summary>
/// <remarks>
/// With bf16 activations, two tokens whose CPU logprobs lie within the 2e-2 tolerance are a tie at that precision:
/// a run that takes the other one there passes as "split at a near-tie" (vLLM's check_logprobs_close rule), and is
/// compared up to that token. The log says which prompts split, and by how much.
/// </remarks>
internal static class FixtureChecks
{
    public const float LogprobTolerance = 2e-2f;

    /// <param name="tp">Tensor-parallel ranks of the CUDA runs (one GPU each where there are enough, NCCL between them;
    /// else sharing a GPU, through host memory); the CPU reference always runs as one rank.</param>
    public static int Run(IEnumerable<string> directories, TextWriter log, int tp = 1)
    {
        int failures = 0;
        foreach (string dir in directories)
        {
            try
            {
                // bf16 activations are what serving uses; a float32 checkpoint (which Hugging Face runs in
                // float32) is also run with float32 activations, where it must match the CPU closely. For a
                // float32 checkpoint the bf16 run is reported but only the float32 run can fail.
                bool bf16Checkpoint = IsBf16(dir);
                failures += Check(dir, log, f32: false, strict: bf16Checkpoint, tp);
                if (!bf16Checkpoint) failures += Check(dir, log, f32: true, strict: true, tp);
                // FP8 weights: the CPU multiplies by the same values, dequantized (bf16 activations on the GPU).
                failures += Check(dir, log, f32: false, strict: bf16Checkpoint, tp, WeightQuantization.Fp8);
            }
            catch (Exception e)
            {
                failures++;
                log.WriteLine($"FAIL {dir}: {e}");
            }
        }
        log.WriteLine(failures == 0 ? "fixtures: all passed" : $"fixtures: {failures} FAILED");
        return failures;
    }

    private static LlmEngine Engine(string dir, IBackend backend, EngineOptions options)
    {
        var config = ModelConfig.Load(dir);
        using var checkpoint = Checkpoint.Open(dir);
        var model = LlamaModel.Load(config, checkpoint, backend, ShardSpec.Whole(config.NumLayers), options.MaxBatchedTokens, Math.Min(config.MaxPositionEmbeddings, 4096));
        return new LlmEngine(new SingleRankExecutor(model, backend), null, config.EosTokenIds, options);
    }

    /// <summary>The CUDA engine: one rank, or <paramref name="tp"/> tensor-parallel ranks as threads of this process.</summary>
    private static LlmEngine CudaEngine(string dir, bool f32, int tp, EngineOptions options, WeightQuantization quantization, TextWriter? log = null)
    {
        if (tp == 1) return Engine(dir, new CudaBackend(new CudaBackendOptions { Float32Activations = f32, Quantization = quantization }), options);
        var config = ModelConfig.Load(dir);
        var plan = ParallelPlan.Create(config, tp, 1, null, null);
        var executor = new InProcessGroupExecutor(dir, plan, r =>
        {
            var device = CudaBackendOptions.Parse(BackendFactory.RankDevice("cuda", r))!;
            device.Float32Activations = f32;
            device.Quantization = quantization;
            return new CudaBackend(device);
        }, options.MaxBatchedTokens, Math.Min(config.MaxPositionEmbeddings, 4096), TimeSpan.FromSeconds(60));
        foreach (var rank in executor.Ranks) log?.WriteLine($"  rank {rank.Rank}: {rank.Description}");
        return new LlmEngine(executor, null, config.EosTokenIds, options);
    }

    private static List<int[]> Prompts(string dir)
    {
        string reference = Path.Combine(dir, "reference.json");
        if (!File.Exists(reference)) return [[1, 450, 4996, 17354, 1701, 432, 17204, 975, 278, 17366, 11203]];
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(reference));
        return json.RootElement.GetProperty("prompts").EnumerateArray()
            .Select(p => p.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToList();
    }

    private static bool IsBf16(string dir)
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        foreach (string key in new[] { "dtype", "torch_dtype" })
        {
            if (json.RootElement.TryGetProperty(key, out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String)
                return value.GetString() == "bfloat16";
        }
        return false;
    }

    private static int Check(string dir, TextWriter log, bool f32, bool strict, int tp, WeightQuantization quantization = WeightQuantization.None)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(dir)) + (f32 ? " [f32 act]" : " [bf16 act]") + (tp > 1 ? $" [tp {tp}]" : "")
            + (quantization == WeightQuantization.None ? "" : $" [{quantization.Name()}]") + (strict ? "" : " (report only)");
        var prompts = Prompts(dir);
        const int Tokens = 12;
        var sampling = SamplingParams.Greedy(Tokens) with { IgnoreEos = true, Logprobs = 5 };
        int failures = 0;

        using var cpu = Engine(dir, new CpuBackend(new CpuBackendOptions { Threads = 1, Quantization = quantization }), new EngineOptions { KvCacheBlocks = 64 });
        using var gpu = CudaEngine(dir, f32, tp, new EngineOptions { KvCacheBlocks = 64 }, quantization, log);
        var cpuRuns = new List<Sequence>();
        for (int p = 0; p < prompts.Count; p++)
        {
            var c = cpu.Add(prompts[p], sampling);
            cpu.RunToCompletion();
            var g = gpu.Add(prompts[p], sampling);
            gpu.RunToCompletion();
            int[] ct = c.OutputIds.ToArray(), gt = g.OutputIds.ToArray();
            cpuRuns.Add(c);
            // Logprobs are comparable while the two runs agree on the tokens so far.
            float worst = 0;
            int compared = 0;
            for (int i = 0; i < Math.Min(ct.Length, gt.Length); i++)
            {
                var cl = c.Logprobs![i];
                var gl = g.Logprobs![i];
                foreach (var alt in gl.Top)
                {
                    foreach (var other in cl.Top)
                    {
                        if (other.TokenId != alt.TokenId) continue;
                        worst = Math.Max(worst, Math.Abs(other.Logprob - alt.Logprob));
                        compared++;
                    }
                }
                if (ct[i] != gt[i]) break;
            }
            string tokens = CompareTokens(c, gt, nearTies: !f32, out bool agree);
            bool ok = agree && worst <= LogprobTolerance && compared > 0;
            if (!ok && strict) failures++;
            log.WriteLine($"  {(ok ? "ok  " : strict ? "FAIL" : "diff")} {name} prompt {p}: tokens {tokens}; top-5 logprobs max diff {worst:F4} over {compared}");
        }

        // Batched, chunked prefill (8 tokens a step), small blocks: the same tokens again.
        using var batched = CudaEngine(dir, f32, tp, new EngineOptions { KvCacheBlocks = 256, BlockSize = 4, MaxBatchedTokens = 8 }, quantization);
        var sequences = prompts.Select(p => batched.Add(p, SamplingParams.Greedy(Tokens) with { IgnoreEos = true })).ToList();
        batched.RunToCompletion();
        for (int p = 0; p < prompts.Count; p++)
        {
            string tokens = CompareTokens(cpuRuns[p], sequences[p].OutputIds.ToArray(), nearTies: !f32, out bool agree);
            if (!agree && strict) failures++;
            log.WriteLine($"  {(agree ? "ok  " : strict ? "FAIL" : "diff")} {name} prompt {p} batched+chunked on cuda: tokens {tokens}");
        }

        // Async scheduling (on above, the default, with a greedy step's tokens fed to the next on the device at tp 1)
        // against none, and against async scheduling without the feed: the same steps (but for the row a stopped
        // sequence still computes in the step after its stop, whose token is dropped), so the same tokens; a stop token
        // from the CPU run ends the first prompt's output in all three.
        int stop = cpuRuns[0].OutputIds[Tokens / 2];
        SamplingParams Request(int p) => SamplingParams.Greedy(Tokens) with { IgnoreEos = true, StopTokenIds = p == 0 ? [stop] : [] };
        var variants = new (bool Async, bool Feed, string Name)[] { (false, false, "none"), (true, true, "async scheduling, tokens fed on the device"), (true, false, "async scheduling, tokens from the host") };
        var runs = variants.Select(v =>
        {
            using var engine = CudaEngine(dir, f32, tp, new EngineOptions { KvCacheBlocks = 256, BlockSize = 4, MaxBatchedTokens = 8, AsyncScheduling = v.Async, FeedTokensOnDevice = v.Feed }, quantization);
            var batch = prompts.Select((prompt, p) => engine.Add(prompt, Request(p))).ToList();
            engine.RunToCompletion();
            return (Outputs: batch.Select(s => s.OutputIds.ToArray()).ToList(), engine.FedSteps);
        }).ToList();
        if (tp == 1 && runs[1].FedSteps == 0)
        {
            failures++;
            log.WriteLine($"  FAIL {name}: no step was fed on the device with async scheduling");
        }
        for (int v = 1; v < variants.Length; v++)
        {
            for (int p = 0; p < prompts.Count; p++)
            {
                int[] got = runs[v].Outputs[p], expected = runs[0].Outputs[p];
                bool same = got.AsSpan().SequenceEqual(expected);
                if (!same) failures++;
                log.WriteLine($"  {(same ? "ok  " : "FAIL")} {name} prompt {p} batched on cuda, {variants[v].Name} ({runs[v].FedSteps} steps fed) against none: {(same ? "equal" : $"[{string.Join(',', got)}] against [{string.Join(',', expected)}]")}");
            }
        }
        return failures;
    }

    /// <summary>
    /// Whether <paramref name="tokens"/> are the CPU run's, or (with <paramref name="nearTies"/>) leave them first
    /// for a token whose CPU logprob is within the tolerance of the CPU's pick; and what to log about it.
    /// </summary>
    private static string CompareTokens(Sequence cpu, int[] tokens, bool nearTies, out bool agree)
    {
        int[] expected = cpu.OutputIds.ToArray();
        int at = 0;
        while (at < Math.Min(expected.Length, tokens.Length) && expected[at] == tokens[at]) at++;
        agree = at == expected.Length && at == tokens.Length;
        if (agree) return "equal";
        string both = $"\n       cpu  {string.Join(',', expected)}\n       cuda {string.Join(',', tokens)}";
        if (!nearTies || at >= Math.Min(expected.Length, tokens.Length)) return "differ" + both;
        var step = cpu.Logprobs![at];
        int rank = Array.FindIndex(step.Top, t => t.TokenId == tokens[at]);
        if (rank < 0) return $"differ at token {at} (cuda's pick is not in the cpu's top 5)" + both;
        var taken = step.Top[rank];
        float gap = step.Logprob - taken.Logprob;
        agree = gap <= LogprobTolerance;
        return $"{(agree ? "split at a near-tie" : "differ")} at token {at}: cpu logprobs {step.Logprob:F4} for {expected[at]}, {taken.Logprob:F4} for cuda's {tokens[at]} (gap {gap:F4})" + both;
    }
}

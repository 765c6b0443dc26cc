using System.Collections.Concurrent;
using Granary.Compute.Cpu;
using Granary.Engine;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Parallel.Tests;

/// <summary>Greedy generations of one model through the engine, on one rank or an in-process TP x PP group.</summary>
internal static class Runs
{
    public const int NewTokens = 8;

    public sealed record Output(int[] Tokens, IReadOnlyList<GeneratedTokenLogprobs> Logprobs);

    private static readonly ConcurrentDictionary<string, Lazy<Output[]>> SingleRank = new();

    /// <summary>The single-rank run of a model, computed once per test run.</summary>
    public static Output[] Reference(string model) => SingleRank.GetOrAdd(model, m => new Lazy<Output[]>(() => Generate(m, 1, 1, null))).Value;

    /// <param name="directory">The checkpoint folder when not the model's own (an FP8 copy of it); the prompts are the model's.</param>
    public static Output[] Generate(string model, int tp, int pp, int[]? partition, string? directory = null)
    {
        string dir = directory ?? TestData.Model(model);
        var config = ModelConfig.Load(dir);
        var options = new EngineOptions { KvCacheBlocks = 64 };
        IModelExecutor executor;
        if (tp * pp == 1 && partition is null)
        {
            var backend = new CpuBackend();
            using var checkpoint = Checkpoint.Open(dir);
            executor = new SingleRankExecutor(LlamaModel.Load(config, checkpoint, backend, ShardSpec.Whole(config.NumLayers), options.MaxBatchedTokens, config.MaxPositionEmbeddings), backend);
        }
        else
        {
            var plan = ParallelPlan.Create(config, tp, pp, partition);
            // The ranks share the machine's cores, as LocalModel shares them.
            int threads = Math.Max(1, Environment.ProcessorCount / plan.WorldSize);
            executor = new InProcessGroupExecutor(dir, plan, _ => new CpuBackend(new CpuBackendOptions { Threads = threads }), options.MaxBatchedTokens, config.MaxPositionEmbeddings, TimeSpan.FromSeconds(30));
        }
        using var engine = new LlmEngine(executor, null, config.EosTokenIds, options);
        var sequences = TestData.Prompts(model).Select(p => engine.Add(p, SamplingParams.Greedy(NewTokens) with { IgnoreEos = true, Logprobs = 5 })).ToList();
        engine.RunToCompletion();
        return sequences.Select(s => new Output(s.OutputIds.ToArray(), s.Logprobs!.ToArray())).ToArray();
    }
}

using Granary.Cluster.Placement;
using Granary.Engine;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>What every silo of a replica reads of its deployment's model before loading ranks: config, layout, limits.</summary>
internal sealed record ReplicaModel(DeploymentSpec Spec, ParallelPlan Plan, int MaxPositions)
{
    public static ReplicaModel Load(DeploymentSpec spec)
    {
        var config = ModelConfig.Load(spec.Model);
        var plan = ParallelPlan.Create(config, spec.TensorParallelSize, spec.PipelineParallelSize, spec.PipelinePartition);
        int maxPositions = ContextLength.Resolve(config, spec.MaxModelLength, spec.AllowLongMaxModelLength);
        return new ReplicaModel(spec, plan, maxPositions);
    }

    /// <summary>Most rows one step holds: the chunked-prefill budget.</summary>
    public int MaxRows => Spec.MaxBatchedTokens;

    public EngineOptions EngineOptions => new()
    {
        KvCacheBytes = Spec.KvCacheMiB << 20,
        MaxModelLength = Spec.MaxModelLength,
        AllowLongMaxModelLength = Spec.AllowLongMaxModelLength,
        MaxSequences = Spec.MaxSequences,
        MaxBatchedTokens = Spec.MaxBatchedTokens,
        AsyncScheduling = Spec.AsyncScheduling,
        FeedTokensOnDevice = Spec.FeedTokensOnDevice,
    };

    /// <summary>Starts the session grain over the replica's executor (rank 0's silo): tokenizer and end-of-sequence ids from the folder.</summary>
    /// <param name="warmup">
    /// How long the engine generates untimed first (<see cref="EngineWarmup"/>), so that the first requests run the JIT's
    /// optimized code; null: <see cref="EngineWarmup.DefaultDuration"/> for rank 0's device; zero: none.
    /// </param>
    public async Task<ReplicaSession> StartSessionAsync(ReplicaPlacement placement, IModelExecutor executor, TimeSpan? warmup, ILoggerFactory loggers)
    {
        var tokenizer = TokenizerLoader.FromModelDirectory(Spec.Model);
        var eos = LocalModel.EosIds(Plan.Config, GenerationConfig.Load(Spec.Model), tokenizer);
        var options = EngineOptions;
        var engine = new LlmEngine(executor, tokenizer, eos, options, loggers.CreateLogger<LlmEngine>());
        await EngineWarmup.WarmUpAsync(engine, Plan.Config.VocabSize, warmup, placement.Ranks[0].Device, $"Replica {placement.Id}", loggers.CreateLogger<ReplicaSession>()).ConfigureAwait(false);
        return new ReplicaSession(placement.Id, placement.Generation, Spec.Name, engine, Spec.MaxWaiting, loggers);
    }
}

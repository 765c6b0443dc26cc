using Granary.Cluster.Placement;
using Granary.Compute.Collectives;
using Granary.Engine;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// What one silo runs of one replica: the rank grains placed on it and, when rank 0 is here, the session grain.
/// A replica whose ranks all live on this silo links them in-process (a method call per step, no socket).
/// </summary>
public sealed class ReplicaActivation : IDisposable
{
    private readonly IReadOnlyList<RankGrain> _ranks;

    private ReplicaActivation(ReplicaPlacement placement, IReadOnlyList<RankGrain> ranks, SessionGrain? session)
    {
        Placement = placement;
        _ranks = ranks;
        Session = session;
    }

    public ReplicaPlacement Placement { get; }
    public IReadOnlyList<RankGrain> Ranks => _ranks;

    /// <summary>The session grain, when this silo holds rank 0.</summary>
    public SessionGrain? Session { get; }

    /// <summary>Loads this silo's ranks of <paramref name="placement"/> and, with rank 0, starts the session (blocking: run it off the request path).</summary>
    /// <param name="cpuThreads">CPU threads each CPU rank gets.</param>
    public static ReplicaActivation Activate(ReplicaPlacement placement, DeploymentSpec spec, string siloKey, int cpuThreads, TimeSpan timeout, ILoggerFactory loggers)
    {
        var local = placement.Ranks.Where(r => r.Silo == siloKey).ToList();
        if (local.Count == 0) throw new ArgumentException($"replica {placement.Id} has no rank on silo {siloKey}");
        if (local.Count != placement.Ranks.Count)
            throw new NotSupportedException($"replica {placement.Id} spans silos ({string.Join(", ", placement.Ranks.Select(r => r.Silo).Distinct())}); this version runs a replica's ranks on one silo: give each silo at least tp x pp devices");

        var config = ModelConfig.Load(spec.Model);
        var plan = ParallelPlan.Create(config, spec.TensorParallelSize, spec.PipelineParallelSize, spec.PipelinePartition);
        var engineOptions = new EngineOptions
        {
            KvCacheBytes = spec.KvCacheMiB << 20,
            MaxModelLength = spec.MaxModelLength,
            MaxSequences = spec.MaxSequences,
            MaxBatchedTokens = spec.MaxBatchedTokens,
        };
        int maxPositions = spec.MaxModelLength > 0 ? Math.Min(spec.MaxModelLength, config.MaxPositionEmbeddings) : config.MaxPositionEmbeddings;
        var tokenizer = TokenizerLoader.FromModelDirectory(spec.Model);
        var eos = LocalModel.EosIds(config, GenerationConfig.Load(spec.Model), tokenizer);

        var group = new InProcessGroup(plan.WorldSize);
        var ranks = new List<RankGrain>();
        IModelExecutor? executor = null;
        try
        {
            for (int r = 0; r < plan.WorldSize; r++) ranks.Add(RankGrain.Activate(placement, spec, plan, r, group.Transport(r), cpuThreads, spec.MaxBatchedTokens, maxPositions, timeout));
            executor = new InProcessGroupExecutor(plan, ranks.Select(g => g.Shard).ToList(), group);
            var session = new SessionGrain(placement.Id, placement.Generation, executor, tokenizer, eos, engineOptions, loggers);
            return new ReplicaActivation(placement, ranks, session);
        }
        catch
        {
            if (executor is not null) executor.Dispose();
            else
            {
                foreach (var rank in ranks) rank.Shard.Dispose();
                group.Dispose();
            }
            throw;
        }
    }

    /// <summary>Stops the session (its running requests end with an error event, which gateways resume elsewhere) and frees the ranks.</summary>
    public void Dispose() => Session?.Dispose();
}

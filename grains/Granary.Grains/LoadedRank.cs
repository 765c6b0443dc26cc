using Granary.Cluster.Placement;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Engine;
using Granary.Models.Llama;

namespace Granary.Grains;

/// <summary>
/// One rank of a replica as loaded on this silo and one of its devices: the rank's slice of every weight matrix of
/// its pipeline stage (loaded from the checkpoint, only its own bytes) and its slice of the KV cache. It lives in the
/// silo's <see cref="ReplicaHost"/>, not in its rank grain's activation (which answers for it), so that no deactivation reloads weights. The shard is
/// disposed by whoever runs it: the replica's executor, or the replica activation of a silo without rank 0.
/// </summary>
public sealed class LoadedRank
{
    private LoadedRank(string replicaId, long generation, RankPlacement placement, RankShard shard)
    {
        ReplicaId = replicaId;
        Generation = generation;
        Placement = placement;
        Shard = shard;
    }

    public string ReplicaId { get; }
    public long Generation { get; }
    public RankPlacement Placement { get; }
    public RankShard Shard { get; }

    /// <summary>Loads the rank's shard on its device; <paramref name="transport"/> links it to the other ranks of its replica.</summary>
    /// <param name="threads">CPU threads of a CPU rank (ignored on a GPU).</param>
    /// <param name="progress">Told of each tensor the rank reads (<see cref="LoadProgressLog"/>), or null.</param>
    public static LoadedRank Load(ReplicaPlacement replica, DeploymentSpec spec, ParallelPlan plan, int rank, IPeerTransport transport, int threads, int maxRows, int maxPositions, TimeSpan timeout,
        IProgress<Granary.Models.Checkpoints.TensorProgress>? progress = null)
    {
        var placement = replica.Ranks[rank];
        var backend = BackendFactory.Create(placement.Device.StartsWith("cpu:", StringComparison.Ordinal) ? "cpu" : placement.Device, threads, WeightQuantizationNames.Parse(spec.Quantization));
        var shard = RankShard.Load(spec.Model, plan, rank, backend, transport, maxRows, maxPositions, timeout, progress);
        return new LoadedRank(replica.Id, replica.Generation, placement, shard);
    }
}

namespace Granary.Grains.Contracts;

/// <summary>
/// A rank of a replica (one generation of it), pinned to the silo and device the coordinator chose (key
/// <see cref="ReplicaGrainKeys.Rank"/>), active while the rank is loaded there. For a replica whose ranks span silos, the lowest rank on each silo other
/// than rank 0's leads that silo's ranks: rank 0's silo asks it to load them, then sends it one step plan per step,
/// and it runs all of its silo's ranks in-process. Tensors between ranks never travel in these calls: they go over
/// the ranks' own links (NCCL or the TCP ring).
/// </summary>
public interface IRankGrain : IGrainWithStringKey
{
    /// <summary>Connects and loads this silo's ranks of the replica; answers once they are loaded.</summary>
    Task LoadAsync(ReplicaActivationCall call);

    /// <summary>Allocates this silo's part of the replica's KV cache.</summary>
    Task AllocateKvCacheAsync(int blocks, int blockSize);

    /// <summary>Runs this silo's ranks for one step plan; answers what sampling needs when the logits rank is here (else empty).</summary>
    Task<byte[]> StepAsync([Immutable] byte[] plan);

    /// <summary>
    /// What this rank holds on its silo and device (its weights' and KV cache's bytes). Every rank of a loaded replica
    /// has an active grain that answers it, also while its silo's part loads or steps. Throws
    /// <see cref="ReplicaNotServingException"/> when the rank is not loaded there.
    /// </summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<Granary.Cluster.RankStatusRow> GetStatusAsync();

    /// <summary>The rank was unloaded (its replica stopped or was placed again): the activation goes.</summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task ReleaseAsync();
}

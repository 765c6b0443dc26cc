namespace Granary.Grains.Contracts;

/// <summary>
/// A rank of a replica (one generation of it), pinned to the silo and device the coordinator chose (key
/// <see cref="ReplicaGrainKeys.Rank"/>). For a replica whose ranks span silos, the lowest rank on each silo other
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
}

using Granary.Grains.Contracts;
using Granary.Grains.Placement;

namespace Granary.Grains;

/// <summary>
/// <see cref="IRankGrain"/>: the lead rank of a silo's part of a replica spanning silos. The ranks themselves live in
/// the silo's <see cref="ReplicaHost"/>; steps of one replica come one at a time, so the grain is not reentrant.
/// </summary>
[PinnedPlacement]
internal sealed class RankGrain(ReplicaHost host) : Grain, IRankGrain
{
    public Task LoadAsync(ReplicaActivationCall call) => host.ActivatePartAsync(call);

    public Task AllocateKvCacheAsync(int blocks, int blockSize)
    {
        Part().AllocateKvCache(blocks, blockSize);
        return Task.CompletedTask;
    }

    public Task<byte[]> StepAsync(byte[] plan) => Task.FromResult(Part().Step(plan));

    private LocalRanks Part()
    {
        var (replicaId, generation) = ReplicaGrainKeys.Parse(this.GetPrimaryKeyString());
        return host.FindPart(replicaId, generation) ?? throw new ReplicaNotServingException($"replica {replicaId} (generation {generation}) has no part loaded on this silo");
    }
}

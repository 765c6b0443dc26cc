using Granary.Cluster;
using Granary.Grains.Contracts;
using Granary.Grains.Placement;

namespace Granary.Grains;

/// <summary>
/// <see cref="IRankGrain"/>: one rank of a replica, pinned to the silo and device its key names, active while the rank
/// is loaded there (its silo activates it after the load and releases it after the unload). The shard itself lives in
/// the silo's <see cref="ReplicaHost"/>, so that no deactivation ever reloads weights. The lead rank of a silo other
/// than rank 0's also takes that silo's load and step calls; steps of one replica come one at a time, so the grain is
/// not reentrant.
/// </summary>
[PinnedPlacement, KeepAlive]
internal sealed class RankGrain(ReplicaHost host) : Grain, IRankGrain
{
    public Task LoadAsync(ReplicaActivationCall call) => host.ActivatePartAsync(call);

    public Task AllocateKvCacheAsync(int blocks, int blockSize)
    {
        Part().AllocateKvCache(blocks, blockSize);
        return Task.CompletedTask;
    }

    public Task<byte[]> StepAsync(byte[] plan) => Task.FromResult(Part().Step(plan));

    public Task<RankStatusRow> GetStatusAsync()
    {
        var (replicaId, generation, rank) = ReplicaGrainKeys.ParseRank(this.GetPrimaryKeyString());
        if (host.FindRank(replicaId, generation, rank) is not { } loaded)
        {
            DeactivateOnIdle(); // nothing to answer for here
            throw new ReplicaNotServingException($"rank {rank} of replica {replicaId} (generation {generation}) is not loaded on this silo");
        }
        var shard = loaded.Shard;
        return Task.FromResult(new RankStatusRow(replicaId, generation, rank, host.SiloKey, loaded.Placement.Device, shard.Model.WeightBytes,
            shard.Cache?.Bytes ?? 0, shard.Cache?.Blocks ?? 0));
    }

    public Task ReleaseAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private LocalRanks Part()
    {
        var (replicaId, generation) = ReplicaGrainKeys.Parse(this.GetPrimaryKeyString());
        return host.FindPart(replicaId, generation) ?? throw new ReplicaNotServingException($"replica {replicaId} (generation {generation}) has no part loaded on this silo");
    }
}

using Granary.Cluster;
using Granary.Grains.Contracts;
using Granary.Grains.Placement;
using Orleans.Concurrency;

namespace Granary.Grains;

/// <summary><see cref="ISiloGrain"/>: answers from the silo's options, its gateway and its <see cref="ReplicaHost"/>.</summary>
[PinnedPlacement, Reentrant]
internal sealed class SiloGrain(ReplicaHost host, ClusterOptions options, SiloRoles roles) : Grain, ISiloGrain
{
    public Task<SiloInfo> GetInfoAsync() => Task.FromResult(new SiloInfo
    {
        Name = options.SiloName,
        Host = options.AdvertisedHost,
        Devices = options.Devices,
        Roles = roles.GatewayUrl is null ? [] : ["gateway"],
        GatewayUrl = roles.GatewayUrl,
        RankPortBase = options.RankPortBase,
        Load = host.Load(),
    });

    public Task<IReadOnlyList<ReplicaState>> ApplyAsync(IReadOnlyList<ReplicaAssignment> assignments) => Task.FromResult(host.Apply(assignments));
}

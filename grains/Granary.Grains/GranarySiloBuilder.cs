using Granary.Cluster;
using Granary.Grains.Coordination;
using Granary.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;

namespace Granary.Grains;

/// <summary>What every Granary silo adds to Orleans, whatever its clustering: the grains' services, the pinned placement, the membership timings.</summary>
public static class GranarySiloBuilder
{
    /// <param name="store">Where the coordinator keeps its state (Redis for a cluster, memory for a silo alone or a test).</param>
    public static ISiloBuilder AddGranaryGrains(this ISiloBuilder silo, Granary.Cluster.ClusterOptions cluster, IClusterStateStore store)
    {
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = cluster.ProbeTimeout;
            o.NumMissedProbesLimit = cluster.MissedProbesLimit;
            o.NumVotesForDeathDeclaration = cluster.VotesForDeath;
            // A silo that stopped answering (SIGSTOP, a stuck host) is found by the probes alone.
            o.EnableConnectionLivenessCheck = false;
        });
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = cluster.CallTimeout);
        // A request's trace follows it across grain calls: gateway -> session grain -> the other silos' rank grains.
        silo.AddActivityPropagation();
        silo.Services.AddSingleton(cluster);
        silo.Services.AddSingleton(store);
        silo.Services.AddSingleton<SiloRoles>();
        silo.Services.AddSingleton<ReplicaHost>();
        silo.Services.AddSingleton<ModelGateways>();
        silo.Services.AddHostedService<CoordinatorNotifier>();
        silo.Services.AddPlacementDirector<PinnedPlacement, PinnedPlacementDirector>();
        silo.Services.AddSerializer(s => s.AddGranaryTypes());
        silo.AddIncomingGrainCallFilter<StoreErrorCallFilter>();
        return silo;
    }
}

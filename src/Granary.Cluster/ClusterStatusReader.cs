using Granary.Cluster.Activations;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;
using Granary.Redis;

namespace Granary.Cluster;

/// <summary>Reads a <see cref="ClusterStatus"/> from the cluster store.</summary>
public static class ClusterStatusReader
{
    public static async Task<ClusterStatus> ReadAsync(RedisClient redis, string clusterId, CancellationToken cancellationToken = default)
    {
        var keys = new ClusterKeys(clusterId);
        var silos = new MembershipTable(redis, keys);
        var membership = await silos.ReadAsync(cancellationToken).ConfigureAwait(false);
        var loads = await silos.ReadLoadsAsync(cancellationToken).ConfigureAwait(false);
        var table = new DeploymentTable(redis, keys);
        var deployments = await table.ReadDeploymentsAsync(cancellationToken).ConfigureAwait(false);
        var placements = await table.ReadPlacementsAsync(cancellationToken).ConfigureAwait(false);
        var live = membership.Active.Select(r => r.Key).ToHashSet();
        var sessions = (await new GrainDirectory(redis, keys).ReadAsync(a => live.Contains(a.Silo), cancellationToken).ConfigureAwait(false))
            .ToDictionary(a => a.GrainId);
        string? coordinator = await redis.GetStringAsync(keys.CoordinatorLease, cancellationToken).ConfigureAwait(false);
        return new ClusterStatus
        {
            ClusterId = clusterId,
            Coordinator = coordinator,
            Silos = [.. membership.Rows.OrderBy(r => r.Status).ThenBy(r => r.Name, StringComparer.Ordinal)
                .Select(r => new SiloStatusRow(r, membership.SinceHeartbeat(r.Key), loads.GetValueOrDefault(r.Key)))],
            Deployments = [.. deployments.OrderBy(d => d.Name, StringComparer.Ordinal)],
            Replicas = [.. placements.OrderBy(p => p.Deployment, StringComparer.Ordinal).ThenBy(p => PlacementPlanner.Index(p.Id))
                .Select(p => new ReplicaStatusRow(p, sessions.GetValueOrDefault(GrainIds.Session(p.Id))))],
        };
    }
}

using Granary.Cluster;
using Granary.Cluster.Membership;
using Granary.Grains.Contracts;
using Granary.Grains.Coordination;
using Orleans.Runtime;

namespace Granary.Grains;

/// <summary>Reads <see cref="ClusterStatus"/>: Orleans' membership (status, I-am-alive), what each active silo advertises, and the coordinator's view.</summary>
public static class ClusterStatusReader
{
    private static readonly TimeSpan SiloTimeout = TimeSpan.FromSeconds(3);

    public static async Task<ClusterStatus> ReadAsync(IGrainFactory grains, string clusterId, CancellationToken cancellationToken = default)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false).WaitAsync(cancellationToken).ConfigureAwait(false);
        var now = DateTime.UtcNow;
        var rows = await Task.WhenAll(hosts.Select(async entry =>
        {
            string key = entry.SiloAddress.ToParsableString();
            var status = CoordinatorGrain.Map(entry.Status);
            SiloInfo? info = null;
            if (status == Cluster.Membership.SiloStatus.Active)
            {
                try
                {
                    info = await grains.GetGrain<ISiloGrain>(SiloGrainKey.For(key)).GetInfoAsync().WaitAsync(SiloTimeout, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TimeoutException or OrleansException or Placement.PinnedSiloUnavailableException) { }
            }
            var row = CoordinatorGrain.Row(entry.SiloAddress, entry.SiloName, status, info);
            long age = entry.IAmAliveTime == default ? long.MaxValue : (long)(now - entry.IAmAliveTime).TotalMilliseconds;
            return new SiloStatusRow(row, age, info?.Load);
        })).ConfigureAwait(false);
        var view = await grains.GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key).GetViewAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return new ClusterStatus
        {
            ClusterId = clusterId,
            Coordinator = view.CoordinatorSilo,
            Silos = [.. rows.OrderBy(r => r.Row.Name, StringComparer.Ordinal).ThenBy(r => r.Row.Generation)],
            Deployments = view.Deployments,
            Replicas = view.Replicas,
            Unplaced = view.Unplaced,
        };
    }

    /// <summary>Asks the grain of every rank of the ready replicas in <paramref name="status"/> what it holds; a rank that does not answer gets a row saying why.</summary>
    public static async Task<IReadOnlyList<RankStatusRow>> ReadRanksAsync(IGrainFactory grains, ClusterStatus status, CancellationToken cancellationToken = default)
    {
        var ranks = status.Replicas.Where(r => r.Ready).SelectMany(r => r.Placement.Ranks.Select(k => (r.Placement, k)));
        return await Task.WhenAll(ranks.Select(async p =>
        {
            var (placement, rank) = p;
            try
            {
                return await grains.GetGrain<IRankGrain>(ReplicaGrainKeys.Rank(placement, rank.Rank)).GetStatusAsync().WaitAsync(SiloTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or ReplicaNotServingException or Placement.PinnedSiloUnavailableException)
            {
                return new RankStatusRow(placement.Id, placement.Generation, rank.Rank, rank.Silo, rank.Device, 0, 0, 0, $"{e.GetType().Name}: {e.Message}");
            }
        })).ConfigureAwait(false);
    }
}

using Granary.Cluster;
using Granary.Cluster.Placement;

namespace Granary.Grains.Contracts;

/// <summary>
/// The cluster's coordinator, one grain (key <see cref="Key"/>): it keeps the desired deployments and the placement
/// (in Redis when the cluster has one), and on every membership change and every reconcile interval places what the
/// deployments lack on free devices of live silos and places again what a dead silo held.
/// </summary>
public interface ICoordinatorGrain : IGrainWithStringKey
{
    const string Key = "coordinator";

    /// <summary>Adds or replaces a deployment (validated: <see cref="ArgumentException"/> naming the bad field).</summary>
    Task DeployAsync(DeploymentSpec spec);

    /// <summary>Removes a deployment; false when there is none of that name.</summary>
    Task<bool> RemoveAsync(string name);

    /// <summary>The deployments, the replicas and whether each serves (answered even while a pass awaits the silos).</summary>
    [Orleans.Concurrency.AlwaysInterleave]
    Task<ClusterView> GetViewAsync();

    /// <summary>One pass of placement now (silos call it when the membership changes).</summary>
    Task ReconcileAsync();
}

using Granary.Cluster.Activations;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;

namespace Granary.Cluster;

/// <summary>Everything <c>granary cluster status</c> shows, read at one moment from the cluster store.</summary>
public sealed record ClusterStatus
{
    public required string ClusterId { get; init; }
    /// <summary>Silo holding the coordinator lease, or null.</summary>
    public string? Coordinator { get; init; }
    public required IReadOnlyList<SiloStatusRow> Silos { get; init; }
    public required IReadOnlyList<DeploymentSpec> Deployments { get; init; }
    public required IReadOnlyList<ReplicaStatusRow> Replicas { get; init; }
}

/// <summary>A silo as status shows it: its row, the age of its heartbeat and its load.</summary>
public sealed record SiloStatusRow(SiloRow Row, long HeartbeatAgeMs, SiloLoad? Load);

/// <summary>A replica as status shows it: its placement and whether its session grain serves.</summary>
public sealed record ReplicaStatusRow(ReplicaPlacement Placement, GrainActivation? Session)
{
    public bool Ready => Session is not null && Session.Generation == Placement.Generation;
}

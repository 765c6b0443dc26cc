using Granary.Cluster.Membership;
using Granary.Cluster.Placement;

namespace Granary.Cluster;

/// <summary>Everything <c>granary cluster status</c> shows, read at one moment from Orleans' membership and the coordinator grain.</summary>
public sealed record ClusterStatus
{
    public required string ClusterId { get; init; }
    /// <summary>Silo the coordinator grain is active on, or null.</summary>
    public string? Coordinator { get; init; }
    public required IReadOnlyList<SiloStatusRow> Silos { get; init; }
    public required IReadOnlyList<DeploymentSpec> Deployments { get; init; }
    public required IReadOnlyList<ReplicaStatusRow> Replicas { get; init; }
    /// <summary>Replicas wanted but not placed for lack of free devices, with the reason.</summary>
    public IReadOnlyList<string> Unplaced { get; init; } = [];
    /// <summary>What each rank of the ready replicas holds, as its grain says; empty unless asked for (<c>--ranks</c>).</summary>
    public IReadOnlyList<RankStatusRow> Ranks { get; init; } = [];
}

/// <summary>A silo as status shows it: its row, the age of its last I-am-alive write in the membership table, and its load.</summary>
public sealed record SiloStatusRow(SiloRow Row, long HeartbeatAgeMs, SiloLoad? Load);

/// <summary>A replica as status shows it: its placement and whether its session grain serves.</summary>
public sealed record ReplicaStatusRow(ReplicaPlacement Placement, bool Ready, string? Error = null);

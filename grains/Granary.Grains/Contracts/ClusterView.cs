using Granary.Cluster;
using Granary.Cluster.Placement;

namespace Granary.Grains.Contracts;

/// <summary>What the coordinator knows: the deployments, each replica with whether it serves, what could not be placed.</summary>
[GenerateSerializer, Immutable]
public sealed record ClusterView
{
    [Id(0)] public IReadOnlyList<DeploymentSpec> Deployments { get; init; } = [];
    [Id(1)] public IReadOnlyList<ReplicaStatusRow> Replicas { get; init; } = [];
    [Id(2)] public IReadOnlyList<string> Unplaced { get; init; } = [];
    /// <summary>The silo the coordinator grain is active on.</summary>
    [Id(3)] public string? CoordinatorSilo { get; init; }
}

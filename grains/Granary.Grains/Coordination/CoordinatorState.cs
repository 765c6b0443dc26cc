using Granary.Cluster.Placement;

namespace Granary.Grains.Coordination;

/// <summary>What the coordinator persists: the desired deployments and where their replicas are placed.</summary>
public sealed record CoordinatorState
{
    public IReadOnlyList<DeploymentSpec> Deployments { get; init; } = [];
    public IReadOnlyList<ReplicaPlacement> Placements { get; init; } = [];
}

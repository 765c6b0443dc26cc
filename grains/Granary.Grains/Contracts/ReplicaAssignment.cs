using Granary.Cluster.Placement;

namespace Granary.Grains.Contracts;

/// <summary>A replica the coordinator gives a silo: its placement and its deployment.</summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaAssignment([property: Id(0)] ReplicaPlacement Placement, [property: Id(1)] DeploymentSpec Deployment);

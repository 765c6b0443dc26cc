using Granary.Cluster.Placement;
using Granary.Compute.Collectives;

namespace Granary.Grains.Contracts;

/// <summary>What rank 0's silo sends the other silos of a replica that spans silos: the placement, the deployment, and every rank's TCP address.</summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaActivationCall([property: Id(0)] ReplicaPlacement Placement, [property: Id(1)] DeploymentSpec Deployment, [property: Id(2)] PeerAddress[] Addresses);

using Granary.Cluster.Placement;
using Granary.Compute.Collectives;

namespace Granary.Grains;

/// <summary>What rank 0's silo sends the other silos of a replica that spans silos: the placement, the deployment, and every rank's TCP address.</summary>
public sealed record ReplicaActivationCall(ReplicaPlacement Placement, DeploymentSpec Deployment, PeerAddress[] Addresses);

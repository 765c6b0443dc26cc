namespace Granary.Cluster.Placement;

/// <summary>What the coordinator writes after one comparison of the desired state with the placement.</summary>
/// <param name="Placed">Replicas placed anew (or again, under a new generation).</param>
/// <param name="Removed">Ids of replicas to remove: their deployment is gone or shrank, or a silo of theirs died.</param>
/// <param name="Unplaced">Replicas wanted but not placed for lack of free devices, with the reason (for the log and status).</param>
public sealed record PlacementChanges(IReadOnlyList<ReplicaPlacement> Placed, IReadOnlyList<string> Removed, IReadOnlyList<string> Unplaced)
{
    public bool IsEmpty => Placed.Count == 0 && Removed.Count == 0;
}

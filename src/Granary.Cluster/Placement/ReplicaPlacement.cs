namespace Granary.Cluster.Placement;

/// <summary>
/// One replica as the coordinator placed it: its ranks pinned to silos and devices. The session grain lives
/// with rank 0. A replica whose silo died is removed and, where free devices allow, placed again under a
/// new <see cref="Generation"/>.
/// </summary>
public sealed record ReplicaPlacement
{
    /// <summary>"{deployment}/{index}": stable across rebuilds.</summary>
    public required string Id { get; init; }

    public required string Deployment { get; init; }

    /// <summary>Ranks in rank order.</summary>
    public required IReadOnlyList<RankPlacement> Ranks { get; init; }

    /// <summary>The deployment's <see cref="DeploymentSpec.Layout"/> the replica was placed for.</summary>
    public string Layout { get; init; } = "";

    /// <summary>Bumped each time the replica is placed again: activations of an older generation are stale.</summary>
    public long Generation { get; init; }

    /// <summary>The silo of rank 0, which hosts the session grain.</summary>
    public string SessionSilo => Ranks[0].Silo;

    public static string MakeId(string deployment, int index) => $"{deployment}/{index}";
}

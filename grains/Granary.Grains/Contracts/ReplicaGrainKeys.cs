using Granary.Cluster.Placement;
using Granary.Grains.Placement;

namespace Granary.Grains.Contracts;

/// <summary>Keys of a replica's pinned grains: the replica id and generation, the rank and its device, and the silo.</summary>
public static class ReplicaGrainKeys
{
    public static string Session(ReplicaPlacement placement) => PinnedKey.Make($"{placement.Id}.g{placement.Generation}", placement.SessionSilo);

    public static string Rank(ReplicaPlacement placement, int rank) =>
        PinnedKey.Make($"{placement.Id}.g{placement.Generation}/{rank}@{placement.Ranks[rank].Device}", placement.Ranks[rank].Silo);

    /// <summary>The replica id, generation and rank a rank key names.</summary>
    public static (string ReplicaId, long Generation, int Rank) ParseRank(string key)
    {
        var (replicaId, generation) = Parse(key);
        string local = PinnedKey.Local(key);
        int slash = local.LastIndexOf('/');
        int at = slash < 0 ? -1 : local.IndexOf('@', slash);
        if (at < 0 || !int.TryParse(local.AsSpan(slash + 1, at - slash - 1), System.Globalization.CultureInfo.InvariantCulture, out int rank))
            throw new FormatException($"'{key}' is not a rank grain key");
        return (replicaId, generation, rank);
    }

    /// <summary>The replica id and generation a session or rank key names.</summary>
    public static (string ReplicaId, long Generation) Parse(string key)
    {
        string local = PinnedKey.Local(key);
        int slash = local.LastIndexOf('/');
        int dot = local.LastIndexOf(".g", StringComparison.Ordinal);
        // A rank key ends with "/{rank}" after the generation; a session key ends with the generation.
        if (slash > dot) local = local[..slash];
        dot = local.LastIndexOf(".g", StringComparison.Ordinal);
        if (dot < 0 || !long.TryParse(local.AsSpan(dot + 2), out long generation)) throw new FormatException($"'{key}' is not a replica grain key");
        return (local[..dot], generation);
    }
}

namespace Granary.Cluster.Placement;

/// <summary>Where one rank grain of a replica lives: the silo (its key in the membership table) and the device.</summary>
public sealed record RankPlacement(int Rank, string Silo, string Device);

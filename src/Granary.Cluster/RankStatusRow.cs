namespace Granary.Cluster;

/// <summary>
/// A rank as its grain reports it (<c>granary cluster status --ranks</c>): the silo and device it is pinned to and the
/// bytes it holds there. <see cref="Error"/> says why its grain did not answer (then the sizes are 0).
/// </summary>
public sealed record RankStatusRow(string Replica, long Generation, int Rank, string Silo, string Device, long WeightBytes, long KvCacheBytes, int KvBlocks, string? Error = null);

namespace Granary.Engine;

/// <summary>What one rank of a parallel group holds, for the start log and tests.</summary>
/// <param name="Rank">World rank.</param>
/// <param name="Description">Its layers, heads and vocabulary slice in words.</param>
/// <param name="WeightBytes">Weight bytes it loaded (measured while loading).</param>
/// <param name="WorkspaceBytes">Activation buffers it allocated.</param>
/// <param name="KvBytesPerToken">KV cache bytes per token slot.</param>
/// <param name="ProcessBytes">Working set of its process after loading (multi-process ranks), or 0.</param>
public sealed record RankReport(int Rank, string Description, long WeightBytes, long WorkspaceBytes, long KvBytesPerToken, long ProcessBytes);

namespace Granary.Cluster.Transport;

/// <summary>
/// Answers one call of a grain method on this silo. <paramref name="body"/> is valid until the returned task completes
/// (copy what must outlive it); the answer is written as it is. <paramref name="cancellationToken"/> is cancelled
/// when the caller goes away. Throw <see cref="GrainNotFoundException"/> when this silo holds no such activation.
/// </summary>
public delegate ValueTask<ReadOnlyMemory<byte>> GrainHandler(string grainKey, ReadOnlyMemory<byte> body, CancellationToken cancellationToken);

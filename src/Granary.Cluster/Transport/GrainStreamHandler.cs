namespace Granary.Cluster.Transport;

/// <summary>
/// Answers one call of a grain method with a stream of frames, each sent (and flushed) as it is yielded.
/// <paramref name="body"/> is valid until the enumeration ends; a yielded frame only until the next one is asked for.
/// <paramref name="cancellationToken"/> is cancelled when the caller goes away or the endpoint shuts down.
/// Throw <see cref="GrainNotFoundException"/> when this silo holds no such activation.
/// </summary>
public delegate IAsyncEnumerable<ReadOnlyMemory<byte>> GrainStreamHandler(string grainKey, ReadOnlyMemory<byte> body, CancellationToken cancellationToken);

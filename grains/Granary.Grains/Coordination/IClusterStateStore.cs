namespace Granary.Grains.Coordination;

/// <summary>Where the coordinator keeps its state across activations: Redis for a cluster, memory for a silo alone.</summary>
public interface IClusterStateStore
{
    /// <summary>The stored state, or null when there is none (a new cluster, or a store that lost its data).</summary>
    Task<CoordinatorState?> ReadAsync(CancellationToken cancellationToken);

    Task WriteAsync(CoordinatorState state, CancellationToken cancellationToken);
}

namespace Granary.Grains.Coordination;

/// <summary>The state of a silo alone (localhost clustering): it lives as long as the process.</summary>
internal sealed class MemoryClusterStateStore : IClusterStateStore
{
    private volatile CoordinatorState? _state;

    public Task<CoordinatorState?> ReadAsync(CancellationToken cancellationToken) => Task.FromResult(_state);

    public Task WriteAsync(CoordinatorState state, CancellationToken cancellationToken)
    {
        _state = state;
        return Task.CompletedTask;
    }
}

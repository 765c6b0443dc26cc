using System.Collections.Concurrent;
using Granary.Cluster.Membership;

namespace Granary.Cluster.Tests;

/// <summary>The network as the tests want it: every silo answers, except those made unreachable or stalled.</summary>
public sealed class FakeProber : ISiloProber
{
    private readonly ConcurrentDictionary<string, bool> _down = new();

    /// <summary>Probes of <paramref name="siloKey"/> answer false at once (connection refused).</summary>
    public void Unreachable(string siloKey) => _down[siloKey] = false;

    /// <summary>Probes of <paramref name="siloKey"/> never answer and ignore their token (a hung process).</summary>
    public void Stall(string siloKey) => _down[siloKey] = true;

    public Task<bool> ProbeAsync(SiloRow silo, CancellationToken cancellationToken) =>
        !_down.TryGetValue(silo.Key, out bool stalled) ? Task.FromResult(true)
        : stalled ? new TaskCompletionSource<bool>().Task
        : Task.FromResult(false);
}

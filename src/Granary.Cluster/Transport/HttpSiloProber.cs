using Granary.Cluster.Membership;

namespace Granary.Cluster.Transport;

/// <summary>Probes a silo by pinging its endpoint: alive only when it answers, in time, with the very key of its row.</summary>
public sealed class HttpSiloProber(SiloClient client, ClusterOptions options) : ISiloProber
{
    /// <summary>False when the silo does not answer within <see cref="ClusterOptions.ProbeTimeout"/>, refuses, or is another generation.</summary>
    public async Task<bool> ProbeAsync(SiloRow silo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(silo);
        try
        {
            string key = await client.PingAsync(silo.Url, options.ProbeTimeout, cancellationToken).ConfigureAwait(false);
            return key == silo.Key;
        }
        catch (GrainCallException)
        {
            return false;
        }
    }
}

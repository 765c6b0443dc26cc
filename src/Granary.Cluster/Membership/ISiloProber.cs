namespace Granary.Cluster.Membership;

/// <summary>Asks another silo whether it is alive (the transport's ping); membership counts the misses.</summary>
public interface ISiloProber
{
    /// <summary>True when <paramref name="silo"/> answered as that very generation within the probe timeout.</summary>
    Task<bool> ProbeAsync(SiloRow silo, CancellationToken cancellationToken);
}

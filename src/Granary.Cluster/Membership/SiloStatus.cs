namespace Granary.Cluster.Membership;

/// <summary>A silo's state in the membership table, as Orleans names them.</summary>
public enum SiloStatus
{
    /// <summary>Starting: not yet probed by others nor given grains.</summary>
    Joining,
    /// <summary>Serving and eligible for placement.</summary>
    Active,
    /// <summary>Leaving on purpose.</summary>
    ShuttingDown,
    /// <summary>Declared dead by votes or by its stale heartbeat; it must rejoin with a new generation.</summary>
    Dead,
}

namespace Granary.Cluster.Membership;

/// <summary>A silo's state in Orleans' membership table.</summary>
public enum SiloStatus
{
    /// <summary>Starting: not yet probed by others nor given grains.</summary>
    Joining,
    /// <summary>Serving and eligible for placement.</summary>
    Active,
    /// <summary>Leaving on purpose.</summary>
    ShuttingDown,
    /// <summary>Declared dead by the other silos' votes; it must rejoin with a new generation.</summary>
    Dead,
}

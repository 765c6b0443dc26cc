namespace Granary.Cluster.Membership;

/// <summary>
/// This silo cannot join the cluster it was pointed at (a different cluster secret, or it was declared dead
/// while joining). The message says what to fix.
/// </summary>
public sealed class ClusterJoinException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public ClusterJoinException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ClusterJoinException(string message, Exception? inner) : base(message, inner) { }
}

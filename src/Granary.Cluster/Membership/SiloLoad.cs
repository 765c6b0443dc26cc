namespace Granary.Cluster.Membership;

/// <summary>What a silo reports of its work, for status and routing.</summary>
public sealed record SiloLoad
{
    /// <summary>Requests its sessions are running.</summary>
    public int Running { get; init; }
    /// <summary>Requests waiting in its sessions' queues.</summary>
    public int Waiting { get; init; }
    /// <summary>Tokens its sessions have generated since start.</summary>
    public long GeneratedTokens { get; init; }
}

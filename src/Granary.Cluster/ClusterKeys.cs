namespace Granary.Cluster;

/// <summary>The Redis keys of one cluster; the braces keep them in one hash slot of a Redis Cluster.</summary>
public sealed class ClusterKeys(string clusterId)
{
    private readonly string _prefix = $"granary:{{{clusterId}}}:";

    /// <summary>Hash: silo key -> <see cref="SiloRow"/> JSON.</summary>
    public string Silos => _prefix + "silos";

    /// <summary>Counter bumped by every change of <see cref="Silos"/> (compare-and-swap).</summary>
    public string Version => _prefix + "version";

    /// <summary>Hash: silo key -> I-am-alive time (Unix ms); not versioned, written every heartbeat.</summary>
    public string Alive => _prefix + "alive";

    /// <summary>Hash: silo key -> load JSON (running requests, outstanding tokens).</summary>
    public string Load => _prefix + "load";

    /// <summary>The cluster's identity: the SHA-256 of its secret, set by the first silo.</summary>
    public string Meta => _prefix + "meta";

    /// <summary>Hash: grain id -> silo key of its activation.</summary>
    public string Directory => _prefix + "directory";

    /// <summary>Hash: deployment name -> <see cref="DeploymentSpec"/> JSON (the desired state).</summary>
    public string Deployments => _prefix + "deployments";

    /// <summary>Hash: replica id -> <see cref="ReplicaPlacement"/> JSON (what the coordinator placed).</summary>
    public string Placements => _prefix + "placements";

    /// <summary>The coordinator lease: the holder's silo key, with an expiry.</summary>
    public string CoordinatorLease => _prefix + "coordinator";

    /// <summary>
    /// Set once the cluster has state; its absence next to a coordinator that remembers deployments means Redis
    /// lost its data (a restart without persistence), and the coordinator writes back what it knows.
    /// </summary>
    public string Epoch => _prefix + "epoch";
}

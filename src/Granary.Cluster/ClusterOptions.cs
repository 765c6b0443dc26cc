namespace Granary.Cluster;

/// <summary>Settings of one silo's membership in a cluster (bound from the command line or configuration).</summary>
public sealed class ClusterOptions
{
    /// <summary>Redis holding the cluster's tables, e.g. redis://host:6379. Required.</summary>
    public string RedisUrl { get; set; } = "";

    /// <summary>Cluster name: the namespace of every key in Redis; silos of other clusters are not seen. Default "granary".</summary>
    public string ClusterId { get; set; } = "granary";

    /// <summary>
    /// Shared secret every silo-to-silo call carries; a silo whose secret does not match the cluster's cannot join.
    /// Default: the GRANARY_CLUSTER_SECRET environment variable, else empty (an open cluster: loopback tests only).
    /// </summary>
    public string Secret { get; set; } = Environment.GetEnvironmentVariable("GRANARY_CLUSTER_SECRET") ?? "";

    /// <summary>This silo's name (shown in status); default the host name.</summary>
    public string SiloName { get; set; } = Environment.MachineName;

    /// <summary>Address other silos reach this one at. Default 127.0.0.1.</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>Port of the silo endpoint (HTTP/2, grain calls); 0 picks a free one. Default 11111.</summary>
    public int Port { get; set; } = 11111;

    /// <summary>Devices this silo offers for rank grains: "cpu:0", "cuda:1"... Default one CPU device.</summary>
    public IReadOnlyList<string> Devices { get; set; } = ["cpu:0"];

    /// <summary>CPU threads this silo's CPU ranks share (each gets its share); 0 means every core. Default 0.</summary>
    public int Threads { get; set; }

    /// <summary>Roles this silo plays besides hosting grains ("gateway"). Default none.</summary>
    public IReadOnlyList<string> Roles { get; set; } = [];

    /// <summary>How often this silo writes its I-am-alive time. Default 1 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the membership table is read again. Default 1 s.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often each other active silo is probed. Default 1 s.</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a probe may take. Default 1 s.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Consecutive failed probes after which this silo votes the peer dead. Default 3.</summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>Votes (from distinct silos, fresh within <see cref="DeathVoteExpiration"/>) that declare a silo dead; fewer when fewer silos are left. Default 2.</summary>
    public int VotesForDeath { get; set; } = 2;

    /// <summary>How long a death vote counts. Default 20 s.</summary>
    public TimeSpan DeathVoteExpiration { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The bound on detection: a silo whose I-am-alive time is older than this is declared dead by any other,
    /// whatever the votes. Default 10 s.
    /// </summary>
    public TimeSpan DeathTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a dead silo's row stays in the table (counted from its last I-am-alive time) before any silo removes it.
    /// A silo that finds its own row missing writes it again only when it saw it less than half this long ago (Redis lost
    /// its data); after longer it takes itself for dead (its row may have been removed) and must rejoin. Default 1 h.
    /// </summary>
    public TimeSpan DeadRowRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long the coordinator lease lasts unless renewed (renewed at a third of it). Default 6 s.</summary>
    public TimeSpan CoordinatorLease { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>How often the coordinator compares the desired state with the placement. Default 1 s.</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>First TCP port of the rank communicators on this silo (one per device: base + device index). Default 12000.</summary>
    public int RankPortBase { get; set; } = 12000;

    /// <summary>Longest silo-to-silo control call (activation, KV cache). Default 120 s (loading a shard can take that).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>How long opening a connection to another silo's endpoint may take before the silo counts as unreachable. Default 2 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Largest request or answer of one grain call, and largest frame of a grain stream, in bytes. Default 256 MiB.</summary>
    public int MaxMessageBytes { get; set; } = 256 << 20;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(RedisUrl)) throw new ArgumentException("--cluster redis://HOST:PORT is required");
        if (string.IsNullOrWhiteSpace(ClusterId) || ClusterId.Contains(':') || ClusterId.Contains('{')) throw new ArgumentException($"cluster id '{ClusterId}' must be a plain name (no ':' or braces)");
        if (Devices.Count == 0) throw new ArgumentException("a silo needs at least one device (--devices cpu:0,cpu:1 or cuda:0,...)");
        foreach (string d in Devices)
        {
            if (!(d.StartsWith("cpu:", StringComparison.Ordinal) || d.StartsWith("cuda:", StringComparison.Ordinal)) || !int.TryParse(d[(d.IndexOf(':') + 1)..], out _))
                throw new ArgumentException($"device '{d}' is neither cpu:N nor cuda:N");
        }
        if (Devices.Distinct().Count() != Devices.Count) throw new ArgumentException("--devices lists a device twice");
        if (MissedProbesLimit < 1 || VotesForDeath < 1) throw new ArgumentException("probes and votes must be at least 1");
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentException("the connect timeout must be positive");
        if (MaxMessageBytes < 1024) throw new ArgumentException($"the largest message ({MaxMessageBytes} bytes) must be at least 1024 bytes");
        if (HeartbeatInterval <= TimeSpan.Zero || RefreshInterval <= TimeSpan.Zero || ProbeInterval <= TimeSpan.Zero || ProbeTimeout <= TimeSpan.Zero)
            throw new ArgumentException("the heartbeat, refresh and probe intervals and the probe timeout must be positive");
        if (DeathVoteExpiration <= TimeSpan.Zero) throw new ArgumentException("the death vote expiration must be positive");
        if (DeathTimeout <= HeartbeatInterval) throw new ArgumentException("the death timeout must be longer than the heartbeat interval");
        if (DeadRowRetention <= DeathTimeout) throw new ArgumentException("the dead row retention must be longer than the death timeout");
    }
}

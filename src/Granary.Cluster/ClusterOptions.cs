namespace Granary.Cluster;

/// <summary>
/// Settings of one silo of a cluster (bound from the command line and from GRANARY_Cluster__NAME environment
/// variables). Membership, failure detection and grain calls are Orleans'; these say where the cluster is, what this
/// silo offers, and how fast a dead silo is noticed.
/// </summary>
public sealed class ClusterOptions
{
    /// <summary>
    /// Redis holding Orleans' membership table and the coordinator's state, e.g. redis://host:6379; empty runs one
    /// silo alone with Orleans' localhost clustering (no Redis). Default empty.
    /// </summary>
    public string RedisUrl { get; set; } = "";

    /// <summary>Cluster name (Orleans' ClusterId): silos and clients of other clusters sharing the Redis are not seen. Default "granary".</summary>
    public string ClusterId { get; set; } = "granary";

    /// <summary>This silo's name (shown in status); default the host name.</summary>
    public string SiloName { get; set; } = Environment.MachineName;

    /// <summary>Address other silos and clients reach this one at. Default 127.0.0.1.</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>Orleans' silo-to-silo port; 0 picks a free one. Default 11111.</summary>
    public int Port { get; set; } = 11111;

    /// <summary>Orleans' client gateway port (where Orleans clients connect); 0 picks a free one. Default 30000.</summary>
    public int ClientPort { get; set; } = 30000;

    /// <summary>Devices this silo offers for rank grains: "cpu:0", "cuda:1"... Default one CPU device.</summary>
    public IReadOnlyList<string> Devices { get; set; } = ["cpu:0"];

    /// <summary>CPU threads this silo's CPU ranks share (each gets its share); 0 means every core. Default 0.</summary>
    public int Threads { get; set; }

    /// <summary>
    /// Untimed generation a replica whose session lives here runs before it reports ready, so that its first requests
    /// run the JIT's optimized code (and a GPU's step graphs are captured); null: 2 s on a GPU, 0.5 s on the CPU (as
    /// <c>granary serve</c>); zero: none. Default null.
    /// </summary>
    public TimeSpan? Warmup { get; set; }

    /// <summary>
    /// Whether the silo runs in a Kubernetes pod and uses Orleans' Kubernetes hosting (Microsoft.Orleans.Hosting.Kubernetes):
    /// the pod's name and IP (POD_NAME, POD_IP, POD_NAMESPACE from the downward API) name and address the silo, and the
    /// silos watch their pods, so that a deleted pod's silo is declared dead at once and a silo declared dead has its pod
    /// deleted. Membership stays in Redis. The pods need the labels orleans/serviceId=granary and
    /// orleans/clusterId=CLUSTER and a service account that may get, list, watch and delete pods (deploy/kubernetes).
    /// Default false.
    /// </summary>
    public bool Kubernetes { get; set; }

    /// <summary>First TCP port of the rank communicators on this silo (one per device: base + device index). Default 12000.</summary>
    public int RankPortBase { get; set; } = 12000;

    /// <summary>
    /// How long a probe of another silo may take (Orleans' ClusterMembershipOptions.ProbeTimeout). With
    /// <see cref="MissedProbesLimit"/> 2 and <see cref="VotesForDeath"/> 2 a killed silo is declared dead in about
    /// 1-2 s; Orleans' defaults (5 s, 3, 2) take about 13 s. Default 1 s.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Missed probes after which a silo suspects another (NumMissedProbesLimit). Default 2.</summary>
    public int MissedProbesLimit { get; set; } = 2;

    /// <summary>Suspicions that declare a silo dead (NumVotesForDeathDeclaration); fewer when fewer silos are left. Default 2.</summary>
    public int VotesForDeath { get; set; } = 2;

    /// <summary>How often the coordinator compares the deployments with the placement and the live silos. Default 1 s.</summary>
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest silo-to-silo control call (activation, KV cache) and Orleans' response timeout. Default 120 s (loading a shard can take that).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// PFX file of the cluster's certificate: with it every silo-to-silo and client-to-silo connection is mutual TLS
    /// and a peer must present this same certificate (pinned by thumbprint); without it traffic is plain TCP (loopback
    /// tests only). Default: the GRANARY_CLUSTER_CERTIFICATE environment variable, else none.
    /// </summary>
    public string? CertificatePath { get; set; } = Environment.GetEnvironmentVariable("GRANARY_CLUSTER_CERTIFICATE");

    /// <summary>Password of <see cref="CertificatePath"/>. Default: GRANARY_CLUSTER_CERTIFICATE_PASSWORD, else none.</summary>
    public string? CertificatePassword { get; set; } = Environment.GetEnvironmentVariable("GRANARY_CLUSTER_CERTIFICATE_PASSWORD");

    /// <summary>Whether the silo joins a Redis cluster (else it runs alone on localhost clustering).</summary>
    public bool UsesRedis => !string.IsNullOrWhiteSpace(RedisUrl);

    /// <summary>What Orleans' Kubernetes hosting reads at start, checked here so that a silo outside a pod gets one line, not a crash.</summary>
    private static void CheckKubernetesPod()
    {
        string[] missing = [.. new[] { "POD_NAME", "POD_NAMESPACE", "POD_IP", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT" }
            .Where(name => string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))];
        if (missing.Length > 0)
            throw new ArgumentException($"--kubernetes runs in a Kubernetes pod, and {string.Join(", ", missing)} {(missing.Length == 1 ? "is" : "are")} not set (POD_*: the downward API, as deploy/kubernetes/granary.yaml sets them; KUBERNETES_*: set by the kubelet)");
        const string token = "/var/run/secrets/kubernetes.io/serviceaccount/token";
        if (!File.Exists(token)) throw new ArgumentException($"--kubernetes needs the pod's service account token at {token} (automountServiceAccountToken: true, and a role that may get, list, watch and delete pods)");
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (UsesRedis && !RedisUrl.StartsWith("redis://", StringComparison.Ordinal) && !RedisUrl.StartsWith("rediss://", StringComparison.Ordinal))
            throw new ArgumentException($"--cluster must be a redis://HOST:PORT address, got '{RedisUrl}'");
        if (Kubernetes && !UsesRedis) throw new ArgumentException("--kubernetes needs --cluster redis://HOST:PORT: the membership stays in Redis");
        if (Kubernetes) CheckKubernetesPod();
        if (string.IsNullOrWhiteSpace(ClusterId) || ClusterId.Contains(':') || ClusterId.Contains('{')) throw new ArgumentException($"cluster id '{ClusterId}' must be a plain name (no ':' or braces)");
        if (Devices.Count == 0) throw new ArgumentException("a silo needs at least one device (--devices cpu:0,cpu:1 or cuda:0,...)");
        foreach (string d in Devices)
        {
            if (!(d.StartsWith("cpu:", StringComparison.Ordinal) || d.StartsWith("cuda:", StringComparison.Ordinal)) || !int.TryParse(d[(d.IndexOf(':') + 1)..], out _))
                throw new ArgumentException($"device '{d}' is neither cpu:N nor cuda:N");
        }
        if (Devices.Distinct().Count() != Devices.Count) throw new ArgumentException("--devices lists a device twice");
        if (MissedProbesLimit < 1 || VotesForDeath < 1) throw new ArgumentException("probes and votes must be at least 1");
        if (ProbeTimeout <= TimeSpan.Zero || ReconcileInterval <= TimeSpan.Zero || CallTimeout <= TimeSpan.Zero)
            throw new ArgumentException("the probe timeout, the reconcile interval and the call timeout must be positive");
        if (Warmup < TimeSpan.Zero) throw new ArgumentException($"--warmup must be at least 0 seconds, got {Warmup.Value.TotalSeconds}");
        if (CertificatePath is { Length: > 0 } path && !File.Exists(path)) throw new ArgumentException($"the cluster certificate {path} does not exist");
    }
}

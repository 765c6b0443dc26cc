namespace Granary.Cluster.Membership;

/// <summary>One silo in the membership table (one generation of it: a restarted silo is a new row).</summary>
public sealed record SiloRow
{
    /// <summary>Unique among all silos ever: name, address and generation.</summary>
    public required string Key { get; init; }
    public required string Name { get; init; }
    public required string Host { get; init; }
    /// <summary>Silo endpoint (HTTP/2).</summary>
    public required int Port { get; init; }
    /// <summary>Start time in Unix ms: a silo that rejoins gets a larger one.</summary>
    public required long Generation { get; init; }
    public SiloStatus Status { get; init; }
    public IReadOnlyList<string> Devices { get; init; } = [];
    public IReadOnlyList<string> Roles { get; init; } = [];
    /// <summary>Gateway endpoint (HTTP, OpenAI API) when the silo has the gateway role, else null.</summary>
    public string? GatewayUrl { get; init; }
    /// <summary>First TCP port of the rank communicators (base + device index).</summary>
    public int RankPortBase { get; init; }
    /// <summary>Death votes: "voter key|unix ms".</summary>
    public IReadOnlyList<string> Suspicions { get; init; } = [];
    public long StartedAt { get; init; }

    /// <summary>The silo endpoint's base URL.</summary>
    public string Url => $"http://{Host}:{Port}";

    public static string MakeKey(string name, string host, int port, long generation) => $"{name}@{host}:{port}/{generation}";
}

namespace Granary.Cluster.Membership;

/// <summary>
/// One silo as the coordinator and status see it: Orleans' membership entry (address, status, liveness) joined with
/// what the silo advertises of itself (devices, roles, gateway, rank ports). A restarted silo is a new row: Orleans
/// gives it a new generation, hence a new <see cref="Key"/>.
/// </summary>
public sealed record SiloRow
{
    /// <summary>Orleans' silo address in its parsable form ("host:port@generation"): unique among all silos ever.</summary>
    public required string Key { get; init; }
    public required string Name { get; init; }
    public required string Host { get; init; }
    /// <summary>The Orleans silo-to-silo port.</summary>
    public required int Port { get; init; }
    /// <summary>Orleans' generation of the silo: a silo that rejoins gets a larger one.</summary>
    public required long Generation { get; init; }
    public SiloStatus Status { get; init; }
    public IReadOnlyList<string> Devices { get; init; } = [];
    public IReadOnlyList<string> Roles { get; init; } = [];
    /// <summary>Gateway endpoint (HTTP, OpenAI API) when the silo has the gateway role, else null.</summary>
    public string? GatewayUrl { get; init; }
    /// <summary>First TCP port of the rank communicators (base + device index).</summary>
    public int RankPortBase { get; init; }
}

using Granary.Cluster.Membership;

namespace Granary.Grains.Contracts;

/// <summary>What a silo advertises of itself: name, devices, roles, gateway, rank ports and load.</summary>
[GenerateSerializer, Immutable]
public sealed record SiloInfo
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public required string Host { get; init; }
    [Id(2)] public required IReadOnlyList<string> Devices { get; init; }
    [Id(3)] public IReadOnlyList<string> Roles { get; init; } = [];
    [Id(4)] public string? GatewayUrl { get; init; }
    [Id(5)] public int RankPortBase { get; init; }
    [Id(6)] public SiloLoad Load { get; init; } = new();
}

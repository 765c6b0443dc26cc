using System.CommandLine;
using Granary.Grains;

namespace Granary.Silo.Cli;

/// <summary>The flags that name a cluster: its Redis and its id (shared by silo, deploy and cluster status); deploy and status reach it as Orleans clients.</summary>
internal sealed class ClusterCliOptions
{
    public Option<string?> Cluster { get; } = new("--cluster") { Description = "The cluster's Redis, e.g. redis://10.0.0.1:6379 (env GRANARY_CLUSTER)" };
    public Option<string?> ClusterId { get; } = new("--cluster-id") { Description = "Cluster name: several clusters can share one Redis (env GRANARY_CLUSTER_ID; default granary)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Cluster);
        command.Options.Add(ClusterId);
    }

    public string RedisUrl(ParseResult parse) => RedisUrlOrNone(parse) ?? throw new ArgumentException("--cluster redis://HOST:PORT is required (or set GRANARY_CLUSTER)");

    /// <summary>The cluster's Redis, or null: a silo without one runs alone.</summary>
    public string? RedisUrlOrNone(ParseResult parse) => parse.GetValue(Cluster) ?? Environment.GetEnvironmentVariable("GRANARY_CLUSTER");

    public string Id(ParseResult parse) => parse.GetValue(ClusterId) ?? Environment.GetEnvironmentVariable("GRANARY_CLUSTER_ID") ?? "granary";

    /// <summary>Connects as an Orleans client (with the cluster's certificate when GRANARY_CLUSTER_CERTIFICATE names one); the error names the address when it cannot.</summary>
    public Task<ClusterConnection> ConnectAsync(ParseResult parse, CancellationToken cancellationToken) =>
        ClusterConnection.ConnectAsync(RedisUrl(parse), Id(parse), Environment.GetEnvironmentVariable("GRANARY_CLUSTER_CERTIFICATE") is { Length: > 0 } path ? path : null,
            cancellationToken: cancellationToken);
}

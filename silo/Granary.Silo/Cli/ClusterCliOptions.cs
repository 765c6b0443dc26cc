using System.CommandLine;
using Granary.Redis;

namespace Granary.Silo.Cli;

/// <summary>The flags that name a cluster: its Redis and its id (shared by silo, deploy and cluster status).</summary>
internal sealed class ClusterCliOptions
{
    public Option<string?> Cluster { get; } = new("--cluster") { Description = "The cluster's Redis, e.g. redis://10.0.0.1:6379 (env GRANARY_CLUSTER)" };
    public Option<string?> ClusterId { get; } = new("--cluster-id") { Description = "Cluster name: several clusters can share one Redis (env GRANARY_CLUSTER_ID; default granary)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Cluster);
        command.Options.Add(ClusterId);
    }

    public string RedisUrl(ParseResult parse) => parse.GetValue(Cluster) ?? Environment.GetEnvironmentVariable("GRANARY_CLUSTER")
        ?? throw new ArgumentException("--cluster redis://HOST:PORT is required (or set GRANARY_CLUSTER)");

    public string Id(ParseResult parse) => parse.GetValue(ClusterId) ?? Environment.GetEnvironmentVariable("GRANARY_CLUSTER_ID") ?? "granary";

    /// <summary>Connects to the cluster's Redis; the error names the address when it cannot be reached.</summary>
    public async Task<RedisClient> ConnectAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        string url = RedisUrl(parse);
        try
        {
            return await RedisClient.ConnectAsync(url, cancellationToken: cancellationToken);
        }
        catch (RedisException e)
        {
            throw new IOException($"cannot reach the cluster store {url}: {e.Message}", e);
        }
    }
}

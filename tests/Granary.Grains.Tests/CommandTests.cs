using System.Text.Json;
using Granary.Cluster.Membership;

namespace Granary.Grains.Tests;

/// <summary><c>granary deploy</c> and <c>granary cluster status</c>: what they write and print, and their errors.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CommandTests
{
    [Fact]
    public async Task DeployChecksTheLayoutStatusPrintsTheClusterAndDeleteRemovesIt()
    {
        await using var cluster = await SiloCluster.StartAsync();
        cluster.StartSilo("s1", devices: "cpu:0,cpu:1", gateway: true);
        await cluster.WaitForAsync(s => s.Silos.Any(r => r.Row.Status == SiloStatus.Active), "the silo");

        var badTp = await cluster.DeployAsync("--tp", "4");
        Assert.Equal(1, badTp.Code);
        Assert.Contains("error:", badTp.Stderr);
        Assert.Contains("head", badTp.Stderr); // 6 heads cannot be split 4 ways: the message says what to change
        var badReplicas = await cluster.DeployAsync("--replicas", "many");
        Assert.Equal(1, badReplicas.Code);
        Assert.Contains("--replicas", badReplicas.Stderr);
        var noRedis = await cluster.CliAsync("cluster", "status", "--cluster", "redis://127.0.0.1:1");
        Assert.Equal(1, noRedis.Code);
        Assert.Contains("redis://127.0.0.1:1", noRedis.Stderr);

        var ok = await cluster.DeployAsync("--replicas", "auto");
        Assert.True(ok.Code == 0, ok.Stderr);
        await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 2, "a replica on each device (auto)", 90);

        var table = await cluster.CliAsync("cluster", "status", "--cluster", cluster.Redis.Url, "--cluster-id", cluster.ClusterId);
        Assert.Equal(0, table.Code);
        Assert.Contains("stories15M/1", table.Stdout);
        Assert.Contains("ready", table.Stdout);
        // Every rank has a grain on its silo and device that says what it holds: the whole model and a KV cache here (tp 1).
        var ranks = await cluster.CliAsync("cluster", "status", "--cluster", cluster.Redis.Url, "--cluster-id", cluster.ClusterId, "--ranks");
        Assert.True(ranks.Code == 0, ranks.Stderr);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(ranks.Stdout, @"stories15M/\d+/0\s+s1\s+cpu:\d\s+[1-9]\d*\.\d MiB\s+[1-9]\d*\.\d MiB \([1-9]\d* blocks\)").Count);
        var json = await cluster.CliAsync("cluster", "status", "--cluster", cluster.Redis.Url, "--cluster-id", cluster.ClusterId, "--output", "json");
        var root = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal("s1", root.GetProperty("silos")[0].GetProperty("row").GetProperty("name").GetString());
        Assert.Equal(2, root.GetProperty("replicas").GetArrayLength());

        var delete = await cluster.CliAsync("deploy", "--cluster", cluster.Redis.Url, "--cluster-id", cluster.ClusterId, "--name", "stories15M", "--delete");
        Assert.True(delete.Code == 0, delete.Stderr);
        await cluster.WaitForAsync(s => s.Replicas.Count == 0 && s.Deployments.Count == 0, "the replicas to go");
    }
}

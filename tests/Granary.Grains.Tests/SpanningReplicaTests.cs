using System.Text.Json;
using Granary.Cluster.Membership;

namespace Granary.Grains.Tests;

/// <summary>
/// A replica whose ranks span silos (one device each): pipeline stages on two silos, then tensor-parallel halves on
/// two silos, answering like one process; a silo of it killed mid-answer: the replica is placed again on the silos
/// left, and the answer goes on there.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SpanningReplicaTests(ReferenceServer reference)
{
    [Fact]
    public async Task StagesOnTwoSilosAnswerLikeOneProcessAndAreRebuiltWhenOneDies()
    {
        await using var cluster = await SiloCluster.StartAsync();
        cluster.StartSilo("s1", devices: "cpu:0", gateway: true, threads: 1);
        cluster.StartSilo("s2", devices: "cpu:0", threads: 1);
        await cluster.WaitForAsync(s => s.Silos.Count(r => r.Row.Status == SiloStatus.Active) == 2, "2 active silos");
        // Orleans is the runtime: each silo's log shows Orleans' membership agent joining it to the cluster on Redis.
        foreach (string name in new[] { "s1", "s2" })
        {
            for (int i = 0; i < 50 && !cluster.Silo(name).Stderr.Contains("-Finished BecomeActive", StringComparison.Ordinal); i++) await Task.Delay(100);
            Assert.Contains("Orleans.Runtime.MembershipService.MembershipAgent", cluster.Silo(name).Stderr);
            Assert.Contains("-Finished BecomeActive", cluster.Silo(name).Stderr);
            Assert.Contains($"({name}) joined the cluster on redis://", cluster.Silo(name).Stderr);
        }
        var expected = await Task.WhenAll(Completions.Prompts.Take(3).Select(p => Completions.CompleteAsync(cluster.Http, reference.BaseUrl, p, 40)));

        var deployed = await cluster.DeployAsync("--pp", "2");
        Assert.True(deployed.Code == 0, deployed.Stderr);
        var ready = await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 1, "the pipeline replica", 90);
        Assert.Equal(2, ready.Replicas[0].Placement.Ranks.Select(r => r.Silo).Distinct().Count());
        var gateway = await cluster.GatewayAsync();
        Assert.Equal(expected, await Task.WhenAll(Completions.Prompts.Take(3).Select(p => Completions.CompleteAsync(cluster.Http, gateway, p, 40))));

        deployed = await cluster.DeployAsync("--tp", "2");
        Assert.True(deployed.Code == 0, deployed.Stderr);
        ready = await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 1 && s.Replicas[0].Placement.Layout.Contains("|tp2|"), "the tensor-parallel replica", 90);
        Assert.Equal(expected, await Task.WhenAll(Completions.Prompts.Take(3).Select(p => Completions.CompleteAsync(cluster.Http, gateway, p, 40))));
        // Both ranks' grains answer from the silo and device they were placed on: rank 0's (its silo runs the session)
        // and the other silo's lead rank (it takes the step plans), each holding half the layers' weights and a KV cache.
        var ranks = await cluster.CliAsync("cluster", "status", "--cluster", cluster.Redis.Url, "--cluster-id", cluster.ClusterId, "--output", "json", "--ranks");
        Assert.True(ranks.Code == 0, ranks.Stderr);
        var rows = JsonDocument.Parse(ranks.Stdout).RootElement.GetProperty("ranks").EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        foreach (var row in rows)
        {
            Assert.False(row.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null, row.ToString());
            Assert.Equal(ready.Replicas[0].Placement.Ranks[row.GetProperty("rank").GetInt32()].Silo, row.GetProperty("silo").GetString());
            Assert.Equal("cpu:0", row.GetProperty("device").GetString());
            Assert.True(row.GetProperty("weightBytes").GetInt64() > 0 && row.GetProperty("kvBlocks").GetInt32() > 0, row.ToString());
        }
        Assert.Equal(2, rows.Select(r => r.GetProperty("silo").GetString()).Distinct().Count());

        // A third silo joins; the second dies while an answer streams. There is no other replica, but the coordinator
        // rebuilds this one on s1 and s3 within the gateway's resume wait: the answer goes on there, unbroken.
        cluster.StartSilo("s3", devices: "cpu:0", threads: 1);
        await cluster.WaitForAsync(s => s.Silos.Count(r => r.Row.Status == SiloStatus.Active) == 3, "the third silo");
        string story = await Completions.StreamAsync(cluster.Http, reference.BaseUrl, Completions.Prompts[0], 200);
        var stream = Completions.StreamAsync(cluster.Http, gateway, Completions.Prompts[0], 200, chunks => { if (chunks == 3) cluster.Kill("s2"); });
        string resumed;
        try
        {
            resumed = await stream.WaitAsync(TimeSpan.FromSeconds(90));
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException("the answer did not go on within 90 s of the silo's death\n" + cluster.Logs());
        }
        Assert.Equal(story, resumed);
        var rebuilt = await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 1 && s.Replicas[0].Placement.Ranks.All(r => r.Silo != SiloCluster.KeyOf(s, "s2")),
            "the replica rebuilt without s2", 60);
        Assert.Equal(2, rebuilt.Replicas[0].Placement.Ranks.Select(r => r.Silo).Distinct().Count());
        // The rebuilt generation's rank grains answer from s1 and s3.
        ranks = await cluster.CliAsync("cluster", "status", "--cluster", cluster.Redis.Url, "--cluster-id", cluster.ClusterId, "--output", "json", "--ranks");
        rows = JsonDocument.Parse(ranks.Stdout).RootElement.GetProperty("ranks").EnumerateArray().ToList();
        Assert.All(rows, row => Assert.False(row.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null, row.ToString()));
        Assert.Equal(rebuilt.Replicas[0].Placement.Ranks.Select(r => r.Silo).Order(), rows.Select(r => r.GetProperty("silo").GetString()!).Order());
        Assert.Equal(expected[0], await Completions.CompleteAsync(cluster.Http, gateway, Completions.Prompts[0], 40));
    }
}

using System.Diagnostics;
using Granary.Cluster.Membership;

namespace Granary.Grains.Tests;

/// <summary>
/// Three silos of two CPU devices each, a deployment of tp=2 x 3 replicas: the same answers as one process; a silo
/// killed while 8 streams run loses none of them; the dead silo is marked dead in time; a 4th silo gets the lost replica.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ScaleAndFailoverTests(ReferenceServer reference)
{
    [Fact]
    public async Task ThreeReplicasAnswerLikeOneProcessAndSurviveASiloKilledMidStream()
    {
        await using var cluster = await SiloCluster.StartAsync();
        cluster.StartSilo("s1", gateway: true);
        cluster.StartSilo("s2");
        cluster.StartSilo("s3");
        await cluster.WaitForAsync(s => s.Silos.Count(r => r.Row.Status == SiloStatus.Active) == 3, "3 active silos");
        var deployed = await cluster.DeployAsync("--tp", "2", "--replicas", "3");
        Assert.True(deployed.Code == 0, deployed.Stderr);
        var ready = await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 3, "3 ready replicas", 90);
        // One replica per silo, its two ranks on that silo's two devices.
        Assert.Equal(3, ready.Replicas.Select(r => r.Placement.SessionSilo).Distinct().Count());
        Assert.All(ready.Replicas, r => Assert.Equal(["cpu:0", "cpu:1"], r.Placement.Ranks.Select(k => k.Device).Order()));
        var gateway = await cluster.GatewayAsync();

        var expected = await Task.WhenAll(Completions.Prompts.Select(p => Completions.CompleteAsync(cluster.Http, reference.BaseUrl, p, 48)));
        var answers = await Task.WhenAll(Completions.Prompts.Select(p => Completions.CompleteAsync(cluster.Http, gateway, p, 48)));
        Assert.Equal(expected, answers);

        // Kill -9 the silo of one replica (not the gateway's) while 8 long streams run on all replicas.
        var streamed = await Task.WhenAll(Completions.Prompts.Select(p => Completions.StreamAsync(cluster.Http, reference.BaseUrl, p, 160)));
        var started = new CountdownEvent(Completions.Prompts.Length);
        var streams = Completions.Prompts.Select(p =>
        {
            bool counted = false;
            return Completions.StreamAsync(cluster.Http, gateway, p, 160, chunks =>
            {
                if (chunks >= 3 && !counted) { counted = true; started.Signal(); }
            });
        }).ToArray();
        Assert.True(started.Wait(TimeSpan.FromSeconds(60)), "the streams did not start\n" + cluster.Logs());
        string s1 = SiloCluster.KeyOf(ready, "s1");
        string victim = ready.Replicas.Select(r => r.Placement.SessionSilo).First(k => k != s1);
        string victimName = SiloCluster.NameOf(ready, victim);
        var killedAt = Stopwatch.StartNew();
        cluster.Kill(victimName);
        var results = await Task.WhenAll(streams.Select(async s =>
        {
            try
            {
                return await s;
            }
            catch (Exception e)
            {
                return "ERROR: " + e.Message;
            }
        }));
        Assert.Equal(streamed, results);

        // Declared dead by Orleans' membership within the bound (the status poll included), its replica removed; no free device for it yet.
        await cluster.WaitForAsync(s => s.Silos.Any(r => r.Row.Key == victim && r.Row.Status == SiloStatus.Dead), "the killed silo to be declared dead", 30);
        Assert.True(killedAt.Elapsed < SiloCluster.DeathTimeout, $"declared dead after {killedAt.Elapsed.TotalSeconds:F1} s");
        await cluster.WaitForAsync(s => s.Replicas.Count == 2 && s.Replicas.All(r => r.Placement.SessionSilo != victim), "the lost replica to be removed");

        // A 4th silo joins: the missing replica is placed on it and serves within 30 s.
        cluster.StartSilo("s4");
        var joined = Stopwatch.StartNew();
        var rebuilt = await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 3 && s.Silos.Any(r => r.Row.Name == "s4")
            && s.Replicas.Any(r => r.Placement.SessionSilo == SiloCluster.KeyOf(s, "s4")), "the replica placed on the new silo to be ready", 30);
        string s4 = SiloCluster.KeyOf(rebuilt, "s4");
        for (int i = 0; ; i++)
        {
            Assert.Equal(expected[i % expected.Length], await Completions.CompleteAsync(cluster.Http, gateway, Completions.Prompts[i % expected.Length], 48));
            var status = await cluster.StatusAsync();
            if (status.Silos.First(r => r.Row.Key == s4).Load?.GeneratedTokens > 0) break;
            Assert.True(joined.Elapsed < TimeSpan.FromSeconds(30), "the new silo's replica served nothing within 30 s\n" + cluster.Logs());
        }
    }
}

using Granary.Cluster.Membership;

namespace Granary.Cluster.Tests;

public sealed class JoinTests
{
    [Fact]
    public async Task ThreeSilosJoinActiveWithDistinctKeys()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a");
        int changes = 0;
        a.Changed += _ => Interlocked.Increment(ref changes);
        var b = await cluster.JoinAsync("b");
        var c = await cluster.JoinAsync("c");

        MembershipAgent[] agents = [a, b, c];
        foreach (var agent in agents)
        {
            Assert.Equal(SiloStatus.Active, agent.Self.Status);
            Assert.Equal(SiloRow.MakeKey(agent.Self.Name, agent.Self.Host, agent.Self.Port, agent.Self.Generation), agent.Self.Key);
            Assert.False(agent.Dead.IsCancellationRequested);
        }
        Assert.Equal(3, agents.Select(x => x.Self.Key).Distinct().Count());
        Assert.Equal(["cpu:0", "cpu:1"], b.Self.Devices);
        Assert.Equal("http://127.0.0.1:8000", b.Self.GatewayUrl);

        foreach (var agent in agents)
            await Eventually.TrueAsync(() => agent.Current.Rows.Count(r => r.Status == SiloStatus.Active) == 3, $"{agent.Self.Name} sees 3 active silos");
        Assert.True(Volatile.Read(ref changes) >= 1, "Changed was raised when b and c joined");

        var table = await cluster.ReadAsync();
        Assert.All(table.Rows, r => Assert.Equal(SiloStatus.Active, r.Status));
        Assert.All(table.Rows, r => Assert.True(table.SinceHeartbeat(r.Key) < 2000, $"{r.Key} heartbeats"));
        var redis = await cluster.ObserverAsync();
        Assert.Equal(MembershipTable.SecretHash("test-secret"), await redis.GetStringAsync(new ClusterKeys("granary").Meta));
    }

    [Fact]
    public async Task WrongSecretIsRefusedWithAClearMessage()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a", cluster.Options(secret: "right"));
        var intruder = await cluster.CreateAgentAsync(cluster.Options(secret: "wrong"));

        var e = await Assert.ThrowsAsync<ClusterJoinException>(() => intruder.JoinAsync(cluster.Template("intruder"), CancellationToken.None));

        Assert.Contains("secret does not match cluster 'granary'", e.Message);
        Assert.Contains(cluster.Server.Url, e.Message);
        Assert.Contains("GRANARY_CLUSTER_SECRET", e.Message);
        Assert.Equal([a.Self.Key], (await cluster.ReadAsync()).Rows.Select(r => r.Key));
        Assert.Throws<InvalidOperationException>(() => intruder.Self);
    }

    [Fact]
    public async Task AnotherClusterIdDoesNotSeeTheOthersSilos()
    {
        await using var cluster = await TestCluster.StartAsync();
        var alpha1 = await cluster.JoinAsync("alpha1", cluster.Options("alpha", "secret-a"));
        var beta1 = await cluster.JoinAsync("beta1", cluster.Options("beta", "secret-b"));
        var alpha2 = await cluster.JoinAsync("alpha2", cluster.Options("alpha", "secret-a"));

        // Once alpha1 has read the table with alpha2 in it, it has had every chance to see beta1.
        await Eventually.TrueAsync(() => alpha1.Current.Find(alpha2.Self.Key) is not null, "alpha1 sees alpha2");
        await Eventually.TrueAsync(() => beta1.Current.Version > 0 && beta1.Current.Rows.Count == 1, "beta1 has read its table");
        Assert.Equal([alpha1.Self.Key, alpha2.Self.Key], alpha1.Current.Rows.Select(r => r.Key).Order());
        Assert.Equal([beta1.Self.Key], beta1.Current.Rows.Select(r => r.Key));
        Assert.Null(alpha1.Current.Find(beta1.Self.Key));
    }

    [Fact]
    public async Task RejoinAfterDeathGetsALargerGenerationAndANewKey()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a");
        var b = await cluster.JoinAsync("b", port: 20001);
        var first = b.Self;

        // The process dies: no heartbeat, no probe answers.
        cluster.Prober.Unreachable(first.Key);
        await b.DisposeAsync();
        await Eventually.TrueAsync(async () => await cluster.StatusAsync(first.Key) == SiloStatus.Dead, "b is declared dead");

        var again = await cluster.JoinAsync("b", port: 20001);
        Assert.True(again.Self.Generation > first.Generation, $"generation {again.Self.Generation} > {first.Generation}");
        Assert.NotEqual(first.Key, again.Self.Key);
        Assert.Equal(SiloStatus.Active, again.Self.Status);
        await Eventually.TrueAsync(() => a.Current.Find(again.Self.Key)?.Status == SiloStatus.Active && a.Current.Find(first.Key)?.Status == SiloStatus.Dead,
            "a sees the new b active and the old one dead");
    }

    [Fact]
    public async Task GenerationsOfOneAddressGrowEvenWithinAMillisecond()
    {
        await using var cluster = await TestCluster.StartAsync();
        var generations = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            var agent = await cluster.JoinAsync("same", port: 20002);
            generations.Add(agent.Self.Generation);
            await agent.LeaveAsync(CancellationToken.None);
        }
        Assert.Equal(generations.Order(), generations);
        Assert.Equal(5, generations.Distinct().Count());
    }

    [Fact]
    public async Task LeaveMarksTheRowDeadAndStopsTheLoops()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a");
        var b = await cluster.JoinAsync("b");
        string key = b.Self.Key;

        await b.LeaveAsync(CancellationToken.None);

        Assert.True(b.Dead.IsCancellationRequested);
        Assert.Equal(SiloStatus.Dead, b.Self.Status);
        var table = await cluster.ReadAsync();
        Assert.Equal(SiloStatus.Dead, table.Find(key)!.Status);
        Assert.Empty(table.Find(key)!.Suspicions);
        await Eventually.TrueAsync(() => a.Current.Find(key)?.Status == SiloStatus.Dead, "a sees b dead");

        // No more heartbeats from b, and a is not disturbed.
        long beat = table.Alive[key];
        await Task.Delay(500);
        table = await cluster.ReadAsync();
        Assert.Equal(beat, table.Alive[key]);
        Assert.Equal(SiloStatus.Active, table.Find(a.Self.Key)!.Status);
        Assert.False(a.Dead.IsCancellationRequested);
    }
}

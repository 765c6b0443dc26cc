using Granary.Cluster.Membership;

namespace Granary.Cluster.Tests;

public sealed class PruningTests
{
    private static ClusterOptions ShortRetention(TestCluster cluster)
    {
        var options = cluster.Options();
        options.DeadRowRetention = TimeSpan.FromSeconds(3);
        return options;
    }

    [Fact]
    public async Task OldDeadRowsAreRemoved()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a", ShortRetention(cluster));
        var table = await cluster.TableAsync();
        var now = await table.ReadAsync();
        var old = cluster.Template("old") with { Key = "old@127.0.0.1:1/1", Generation = 1, Status = SiloStatus.Dead, StartedAt = now.Now - 10_000 };
        var recent = cluster.Template("recent") with { Key = "recent@127.0.0.1:1/2", Generation = 2, Status = SiloStatus.Dead, StartedAt = now.Now };
        await table.UpdateAsync(old.Key, (_, _) => old);
        await table.UpdateAsync(recent.Key, (_, _) => recent);
        // An I-am-alive time without a row (a silo that died while joining), long ago.
        var redis = await cluster.ObserverAsync();
        await redis.HSetAsync(table.Keys.Alive, "orphan@127.0.0.1:1/3", now.Now - 10_000);

        await Eventually.TrueAsync(async () => (await table.ReadAsync()) is var t && t.Find(old.Key) is null && !t.Alive.ContainsKey("orphan@127.0.0.1:1/3"),
            "the old dead row and the orphan I-am-alive time are removed");
        var after = await table.ReadAsync();
        Assert.NotNull(after.Find(recent.Key));
        Assert.Equal(SiloStatus.Active, after.Find(a.Self.Key)!.Status);
    }

    [Fact]
    public async Task ASiloThatLostSightOfItsRowForHalfTheRetentionTakesItselfForDead()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a", ShortRetention(cluster));

        // Redis is away for longer than half the retention and comes back empty: the row may as well have been
        // removed as dead, so writing it again could raise a zombie.
        await cluster.Server.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await cluster.Server.StartAsync();

        await Eventually.TrueAsync(() => a.Dead.IsCancellationRequested, "a takes itself for dead");
        Assert.Null((await cluster.ReadAsync()).Find(a.Self.Key));
    }
}

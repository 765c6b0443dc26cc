using Granary.Cluster.Membership;
using Microsoft.Extensions.Logging;

namespace Granary.Cluster.Tests;

public sealed class RedisOutageTests
{
    private const string Unavailable = "cannot reach Redis";
    private const string Back = "answers membership again";

    [Fact]
    public async Task AgentsOutliveARedisRestartThatLostEverything()
    {
        await using var cluster = await TestCluster.StartAsync();
        var logs = new[] { new ListLogger<MembershipAgent>(), new ListLogger<MembershipAgent>(), new ListLogger<MembershipAgent>() };
        var agents = new[]
        {
            await cluster.JoinAsync("a", logger: logs[0]),
            await cluster.JoinAsync("b", logger: logs[1]),
            await cluster.JoinAsync("c", logger: logs[2]),
        };
        var keys = agents.Select(x => x.Self.Key).Order().ToArray();
        foreach (var agent in agents) await Eventually.TrueAsync(() => agent.Current.Rows.Count == 3, "every agent sees 3 silos");

        await cluster.Server.KillAsync();
        foreach (var log in logs) await Eventually.TrueAsync(() => log.Count(LogLevel.Warning, Unavailable) > 0, "every agent notices the outage");
        // Down for longer than the death timeout: when it is back, nobody's last heartbeat is recent.
        await Task.Delay(cluster.Options().DeathTimeout + TimeSpan.FromMilliseconds(500));
        // Serving goes on: nobody is dead, and the last view of the table is kept.
        foreach (var agent in agents)
        {
            Assert.False(agent.Dead.IsCancellationRequested);
            Assert.Equal(3, agent.Current.Rows.Count(r => r.Status == SiloStatus.Active));
        }

        await cluster.Server.StartAsync(); // same port, empty: persistence is off
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                var table = await cluster.ReadAsync();
                return table.Rows.Select(r => r.Key).Order().SequenceEqual(keys) && table.Rows.All(r => r.Status == SiloStatus.Active);
            }
            catch (Granary.Redis.RedisException)
            {
                return false;
            }
        }, "every silo wrote its row again, Active");
        foreach (var agent in agents)
            await Eventually.TrueAsync(() => agent.Current.Rows.Count(r => r.Status == SiloStatus.Active) == 3, "every agent sees 3 active silos again");

        var redis = await cluster.ObserverAsync();
        Assert.Equal(MembershipTable.SecretHash("test-secret"), await redis.GetStringAsync(new ClusterKeys("granary").Meta));
        foreach (var agent in agents)
        {
            Assert.False(agent.Dead.IsCancellationRequested);
            Assert.Equal(SiloStatus.Active, agent.Self.Status);
        }
        foreach (var log in logs)
        {
            await Eventually.TrueAsync(() => log.Count(LogLevel.Information, Back) == 1, "the agent logs that Redis is back");
            Assert.Equal(1, log.Count(LogLevel.Warning, Unavailable)); // one warning per outage, not per attempt
            Assert.Equal(1, log.Count(LogLevel.Warning, "wrote it again as Active"));
        }
        // Heartbeats flow again and nobody gets declared dead afterwards.
        var after = await cluster.ReadAsync();
        Assert.All(keys, k => Assert.True(after.SinceHeartbeat(k) < 1000, $"{k} heartbeats again"));
    }

    [Fact]
    public async Task ARedisOutageLongerThanTheDeathTimeoutKillsNobody()
    {
        // This time Redis keeps its data (an append-only file synced on every write), so when it is back every
        // heartbeat in it is older than the death timeout, and the silos reconnect one after the other.
        string dir = Directory.CreateTempSubdirectory("granary-redis-").FullName;
        try
        {
            await using var cluster = await TestCluster.StartAsync("--appendonly", "yes", "--appendfsync", "always", "--dir", dir);
            var options = cluster.Options();
            var agents = new[]
            {
                await cluster.JoinAsync("a", options),
                await cluster.JoinAsync("b", options),
                await cluster.JoinAsync("c", options),
            };
            var keys = agents.Select(x => x.Self.Key).Order().ToArray();
            foreach (var agent in agents) await Eventually.TrueAsync(() => agent.Current.Rows.Count == 3, "every agent sees 3 silos");

            await cluster.Server.KillAsync();
            await Task.Delay(options.DeathTimeout + TimeSpan.FromMilliseconds(500));
            await cluster.Server.StartAsync();

            await Eventually.TrueAsync(async () =>
            {
                try
                {
                    var table = await cluster.ReadAsync();
                    return keys.All(k => table.SinceHeartbeat(k) < 1000);
                }
                catch (Granary.Redis.RedisException)
                {
                    return false;
                }
            }, "every silo heartbeats again");
            await Eventually.StaysTrueAsync(async () => (await cluster.ReadAsync()).Rows.All(r => r.Status == SiloStatus.Active),
                options.DeathTimeout + TimeSpan.FromMilliseconds(500), "no silo is declared dead after the outage");
            Assert.Equal(keys, (await cluster.ReadAsync()).Rows.Select(r => r.Key).Order());
            Assert.All(agents, x => Assert.False(x.Dead.IsCancellationRequested));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ARedisStalledLongerThanTheDeathTimeoutKillsNobody()
    {
        await using var cluster = await TestCluster.StartAsync();
        var options = cluster.Options();
        var agents = new[]
        {
            await cluster.JoinAsync("a", options),
            await cluster.JoinAsync("b", options),
            await cluster.JoinAsync("c", options),
        };
        foreach (var agent in agents) await Eventually.TrueAsync(() => agent.Current.Rows.Count == 3, "every agent sees 3 silos");

        // Every command waits 3 s (longer than the 2 s death timeout, shorter than the 5 s command timeout).
        var redis = await cluster.ObserverAsync();
        await redis.ExecuteAsync("CLIENT", "PAUSE", 3000L, "ALL");
        await Task.Delay(3000);
        await Eventually.StaysTrueAsync(async () => (await cluster.ReadAsync()).Rows.All(r => r.Status == SiloStatus.Active),
            options.DeathTimeout + TimeSpan.FromSeconds(1), "no silo is declared dead after Redis stalled");
        Assert.All(agents, x => Assert.False(x.Dead.IsCancellationRequested));
    }
}

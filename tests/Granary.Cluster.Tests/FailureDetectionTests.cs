using System.Diagnostics;
using Granary.Cluster.Membership;

namespace Granary.Cluster.Tests;

public sealed class FailureDetectionTests
{
    private static IEnumerable<string> Voters(SiloRow row) =>
        row.Suspicions.Select(v => v[..v.LastIndexOf('|')]).Order();

    [Fact]
    public async Task ASiloThatStopsAnsweringIsVotedDeadBeforeTheTimeout()
    {
        await using var cluster = await TestCluster.StartAsync();
        // A long death timeout, so that only the votes can be the cause.
        var options = cluster.Options();
        options.DeathTimeout = TimeSpan.FromSeconds(6);
        var a = await cluster.JoinAsync("a", options);
        var b = await cluster.JoinAsync("b", options);
        var c = await cluster.JoinAsync("c", options);
        string key = c.Self.Key;
        await Eventually.TrueAsync(() => a.Current.Rows.Count == 3 && b.Current.Rows.Count == 3, "a and b see c");

        var watch = Stopwatch.StartNew();
        cluster.Prober.Unreachable(key);
        await c.DisposeAsync();
        await Eventually.TrueAsync(async () => await cluster.StatusAsync(key) == SiloStatus.Dead, "c is declared dead");

        Assert.True(watch.Elapsed < options.DeathTimeout, $"declared dead after {watch.Elapsed.TotalMilliseconds} ms");
        var row = (await cluster.ReadAsync()).Find(key)!;
        Assert.Equal(new[] { a.Self.Key, b.Self.Key }.Order(), Voters(row));
        await Eventually.TrueAsync(() => a.Current.Find(key)?.Status == SiloStatus.Dead && b.Current.Find(key)?.Status == SiloStatus.Dead, "a and b see c dead");
        Assert.Equal(SiloStatus.Active, a.Self.Status);
        Assert.Equal(SiloStatus.Active, b.Self.Status);
    }

    [Fact]
    public async Task OfTwoSilosOneVoteIsEnough()
    {
        await using var cluster = await TestCluster.StartAsync();
        var options = cluster.Options();
        options.DeathTimeout = TimeSpan.FromSeconds(6);
        var a = await cluster.JoinAsync("a", options);
        var b = await cluster.JoinAsync("b", options);
        string key = b.Self.Key;
        await Eventually.TrueAsync(() => a.Current.Rows.Count == 2, "a sees b");

        var watch = Stopwatch.StartNew();
        cluster.Prober.Unreachable(key);
        await Eventually.TrueAsync(async () => await cluster.StatusAsync(key) == SiloStatus.Dead, "b is declared dead");

        Assert.True(watch.Elapsed < options.DeathTimeout, $"declared dead after {watch.Elapsed.TotalMilliseconds} ms");
        Assert.Equal([a.Self.Key], Voters((await cluster.ReadAsync()).Find(key)!));
        // b still runs: it reads its own row and learns that it is dead.
        await Eventually.TrueAsync(() => b.Dead.IsCancellationRequested, "b's Dead token is cancelled");
    }

    [Fact]
    public async Task ASiloWhoseHeartbeatStopsIsDeclaredDeadByTheTimeoutWithoutVotes()
    {
        await using var cluster = await TestCluster.StartAsync();
        var options = cluster.Options();
        options.MissedProbesLimit = 1000; // no votes: the probes still succeed (or would take far too long)
        var a = await cluster.JoinAsync("a", options);
        var b = await cluster.JoinAsync("b", options);
        var c = await cluster.JoinAsync("c", options);
        string key = c.Self.Key;

        await c.DisposeAsync();
        var watch = Stopwatch.StartNew();
        await Eventually.TrueAsync(async () => await cluster.StatusAsync(key) == SiloStatus.Dead, "c is declared dead");

        // Not before its I-am-alive time is a death timeout old (less the heartbeat it may have written just before).
        Assert.True(watch.Elapsed > options.DeathTimeout - TimeSpan.FromMilliseconds(500), $"declared dead after {watch.Elapsed.TotalMilliseconds} ms");
        var table = await cluster.ReadAsync();
        Assert.Empty(table.Find(key)!.Suspicions);
        Assert.Equal(SiloStatus.Active, table.Find(a.Self.Key)!.Status);
        Assert.Equal(SiloStatus.Active, table.Find(b.Self.Key)!.Status);
    }

    [Fact]
    public async Task AStalledSiloLearnsThatItIsDeadAndStops()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a");
        var b = await cluster.JoinAsync("b");
        var c = await cluster.JoinAsync("c");
        string key = c.Self.Key;
        var deadAt = new TaskCompletionSource();
        c.Dead.Register(() => deadAt.TrySetResult());
        await Eventually.TrueAsync(() => a.Current.Rows.Count == 3 && b.Current.Rows.Count == 3, "a and b see c");

        // Its probes hang (the prober ignores the probe timeout's token); its heartbeats still get through.
        cluster.Prober.Stall(key);
        await deadAt.Task.WaitAsync(Eventually.Deadline);

        Assert.Equal(SiloStatus.Dead, c.Self.Status);
        Assert.Equal(SiloStatus.Dead, (await cluster.ReadAsync()).Find(key)!.Status);
        Assert.False(a.Dead.IsCancellationRequested);
        Assert.False(b.Dead.IsCancellationRequested);

        // Its loops stopped: no more heartbeats.
        long beat = (await cluster.ReadAsync()).Alive[key];
        await Task.Delay(500);
        Assert.Equal(beat, (await cluster.ReadAsync()).Alive[key]);
    }

    [Fact]
    public async Task WritingItsRowDeadCancelsDead()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a");
        var table = await cluster.TableAsync();

        await table.UpdateAsync(a.Self.Key, (row, _) => row! with { Status = SiloStatus.Dead });

        await Eventually.TrueAsync(() => a.Dead.IsCancellationRequested, "a's Dead token is cancelled");
        Assert.Equal(SiloStatus.Dead, a.Self.Status);
        Assert.Equal(SiloStatus.Dead, a.Current.Find(a.Self.Key)!.Status);
    }

    [Fact]
    public async Task AJoiningRowWithoutHeartbeatIsDeclaredDeadAfterTheTimeout()
    {
        await using var cluster = await TestCluster.StartAsync();
        var a = await cluster.JoinAsync("a");
        var table = await cluster.TableAsync();
        var now = await table.ReadAsync();
        var ghost = cluster.Template("ghost") with { Key = "ghost@127.0.0.1:1/1", Generation = 1, Status = SiloStatus.Joining, StartedAt = now.Now };

        Assert.True(await table.TryWriteAsync(ghost, now.Version));
        var watch = Stopwatch.StartNew();
        await Eventually.TrueAsync(async () => await cluster.StatusAsync(ghost.Key) == SiloStatus.Dead, "the stuck Joining row is declared dead");

        Assert.True(watch.Elapsed > TimeSpan.FromSeconds(1.5), $"declared dead after {watch.Elapsed.TotalMilliseconds} ms");
        Assert.Equal(SiloStatus.Active, a.Self.Status);
    }
}

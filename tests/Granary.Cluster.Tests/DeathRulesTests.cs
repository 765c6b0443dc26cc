using Granary.Cluster.Membership;

namespace Granary.Cluster.Tests;

/// <summary>The rules on their own, on snapshots made by hand (no Redis).</summary>
public sealed class DeathRulesTests
{
    private const long Now = 1_000_000;
    private static readonly ClusterOptions Options = new()
    {
        VotesForDeath = 2,
        DeathVoteExpiration = TimeSpan.FromSeconds(10),
        DeathTimeout = TimeSpan.FromSeconds(2),
    };

    private static SiloRow Row(string name, SiloStatus status = SiloStatus.Active, params string[] suspicions) => new()
    {
        Key = name, Name = name, Host = "h", Port = 1, Generation = 1, Status = status, StartedAt = Now - 60_000, Suspicions = suspicions,
    };

    private static MembershipSnapshot Snapshot(params (SiloRow Row, long? BeatAgo)[] silos) => new(
        7, Now, [.. silos.Select(s => s.Row)],
        silos.Where(s => s.BeatAgo is not null).ToDictionary(s => s.Row.Key, s => Now - s.BeatAgo!.Value));

    [Fact]
    public void VotesNeededIsCappedByTheOtherActiveSilosThatHeartbeat()
    {
        var three = Snapshot((Row("a"), 100), (Row("b"), 100), (Row("c"), 100));
        Assert.Equal(2, DeathRules.VotesNeeded("c", three, Options));
        var two = Snapshot((Row("a"), 100), (Row("b"), 100));
        Assert.Equal(1, DeathRules.VotesNeeded("b", two, Options));
        // b is silent and dead-ish, d is leaving: only a counts.
        var others = Snapshot((Row("a"), 100), (Row("b"), 5000), (Row("c"), 100), (Row("d", SiloStatus.ShuttingDown), 100));
        Assert.Equal(1, DeathRules.VotesNeeded("c", others, Options));
        Assert.Equal(1, DeathRules.VotesNeeded("a", Snapshot((Row("a"), 100)), Options));
    }

    [Fact]
    public void TheVoteThatCompletesTheQuorumWritesDead()
    {
        var c = Row("c");
        var snapshot = Snapshot((Row("a"), 100), (Row("b"), 100), (c, 100));

        var first = DeathRules.Vote(c, snapshot, "a", Options, out int votes, out int needed);
        Assert.NotNull(first);
        Assert.Equal(SiloStatus.Active, first.Status);
        Assert.Equal([$"a|{Now}"], first.Suspicions);
        Assert.Equal((1, 2), (votes, needed));

        // a again, a moment later: nothing new to write.
        Assert.Null(DeathRules.Vote(first, snapshot, "a", Options, out _, out _));

        var second = DeathRules.Vote(first, snapshot, "b", Options, out votes, out needed);
        Assert.NotNull(second);
        Assert.Equal(SiloStatus.Dead, second.Status);
        Assert.Equal((2, 2), (votes, needed));
        Assert.Null(DeathRules.Vote(second, snapshot, "a", Options, out _, out _));
        Assert.Null(DeathRules.Vote(null, snapshot, "a", Options, out _, out _));
    }

    [Fact]
    public void ExpiredAndMalformedVotesDoNotCount()
    {
        var c = Row("c", SiloStatus.Active, $"b|{Now - 11_000}", "garbage", "|5", $"b|{Now - 12_000}");
        var snapshot = Snapshot((Row("a"), 100), (Row("b"), 100), (c, 100));

        var row = DeathRules.Vote(c, snapshot, "a", Options, out int votes, out _);

        Assert.Equal(1, votes);
        Assert.Equal(SiloStatus.Active, row!.Status);
        Assert.Equal([$"a|{Now}"], row.Suspicions);
    }

    [Fact]
    public void AVoteOlderThanHalfTheExpirationIsRenewed()
    {
        var c = Row("c", SiloStatus.Active, $"a|{Now - 6_000}");
        var snapshot = Snapshot((Row("a"), 100), (Row("b"), 100), (c, 100));
        Assert.Equal([$"a|{Now}"], DeathRules.Vote(c, snapshot, "a", Options, out _, out _)!.Suspicions);
    }

    [Fact]
    public void StaleMeansSilentForLongerThanTheTimeoutAfterTheGrace()
    {
        var snapshot = Snapshot((Row("fresh"), 1_900), (Row("silent"), 2_100), (Row("never"), null), (Row("dead", SiloStatus.Dead), 9_000));
        Assert.False(DeathRules.IsStale(snapshot.Rows[0], snapshot, 0, Options.DeathTimeout));
        Assert.True(DeathRules.IsStale(snapshot.Rows[1], snapshot, 0, Options.DeathTimeout));
        // No heartbeat at all: counted from when it started joining (a minute ago).
        Assert.True(DeathRules.IsStale(snapshot.Rows[2], snapshot, 0, Options.DeathTimeout));
        Assert.False(DeathRules.IsStale(snapshot.Rows[3], snapshot, 0, Options.DeathTimeout));
        // Redis answered again 1 s ago: nobody is judged yet.
        Assert.False(DeathRules.IsStale(snapshot.Rows[1], snapshot, Now - 1_000, Options.DeathTimeout));
        Assert.False(DeathRules.IsStale(snapshot.Rows[2], snapshot, Now - 1_000, Options.DeathTimeout));
    }
}

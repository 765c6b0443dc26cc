namespace Granary.Cluster.Membership;

/// <summary>
/// The rules that declare a silo dead, as pure functions of a snapshot: every silo judges the same way, and a
/// compare-and-swap update applies them again to the table it is about to change.
/// </summary>
internal static class DeathRules
{
    /// <summary>Server time (Unix ms) of a silo's last sign of life: its I-am-alive time, else when it started joining.</summary>
    public static long LastSignOfLife(SiloRow row, MembershipSnapshot snapshot) =>
        snapshot.Alive.TryGetValue(row.Key, out long at) ? at : row.StartedAt;

    /// <summary>
    /// True when a row that is not dead has shown no sign of life for longer than <paramref name="deathTimeout"/>,
    /// counted from <paramref name="notBefore"/> at the earliest (the judge's grace after Redis was unreachable:
    /// nobody could heartbeat then).
    /// </summary>
    public static bool IsStale(SiloRow row, MembershipSnapshot snapshot, long notBefore, TimeSpan deathTimeout) =>
        row.Status != SiloStatus.Dead &&
        snapshot.Now - Math.Max(LastSignOfLife(row, snapshot), notBefore) > (long)deathTimeout.TotalMilliseconds;

    /// <summary>
    /// Votes that declare <paramref name="suspectKey"/> dead: <see cref="ClusterOptions.VotesForDeath"/>, but at most the
    /// number of other active silos that still heartbeat (so that two silos, or a cluster that lost several at once,
    /// can still decide), and at least one.
    /// </summary>
    public static int VotesNeeded(string suspectKey, MembershipSnapshot snapshot, ClusterOptions options)
    {
        long timeout = (long)options.DeathTimeout.TotalMilliseconds;
        int others = 0;
        foreach (var row in snapshot.Rows)
        {
            if (row.Status == SiloStatus.Active && row.Key != suspectKey && snapshot.SinceHeartbeat(row.Key) <= timeout) others++;
        }
        return Math.Max(1, Math.Min(options.VotesForDeath, others));
    }

    /// <summary>
    /// The row after <paramref name="voterKey"/> votes <paramref name="row"/> dead at the snapshot's time: the voter's vote
    /// joins the other fresh ones (those older than <see cref="ClusterOptions.DeathVoteExpiration"/> are dropped, one per
    /// voter), and the row becomes Dead when they reach <see cref="VotesNeeded"/>. Null when there is nothing to write:
    /// no such row, already dead, or the voter's vote is recent and the quorum is not reached.
    /// </summary>
    public static SiloRow? Vote(SiloRow? row, MembershipSnapshot snapshot, string voterKey, ClusterOptions options, out int votes, out int needed)
    {
        votes = needed = 0;
        if (row is null || row.Status == SiloStatus.Dead) return null;
        long expiration = (long)options.DeathVoteExpiration.TotalMilliseconds;
        var fresh = new Dictionary<string, long>();
        foreach (string suspicion in row.Suspicions)
        {
            if (TryParseVote(suspicion, out string voter, out long at) && snapshot.Now - at <= expiration)
                fresh[voter] = Math.Max(at, fresh.GetValueOrDefault(voter));
        }
        // A recent vote of ours is renewed only when it completes the quorum, so that a suspicion does not rewrite
        // the table (and wake every silo) on each probe round.
        bool renewed = !fresh.TryGetValue(voterKey, out long mine) || snapshot.Now - mine > expiration / 2;
        fresh[voterKey] = snapshot.Now;
        votes = fresh.Count;
        needed = VotesNeeded(row.Key, snapshot, options);
        bool dead = votes >= needed;
        if (!dead && !renewed) return null;
        var suspicions = new List<string>(fresh.Count);
        foreach (var (voter, at) in fresh) suspicions.Add(FormatVote(voter, at));
        return row with { Status = dead ? SiloStatus.Dead : row.Status, Suspicions = suspicions };
    }

    /// <summary>A vote as the row stores it: "voter key|unix ms".</summary>
    public static string FormatVote(string voterKey, long at) => $"{voterKey}|{at}";

    /// <summary>Splits "voter key|unix ms"; false for anything else (a row written by a buggy or newer silo).</summary>
    public static bool TryParseVote(string vote, out string voterKey, out long at)
    {
        int bar = vote.LastIndexOf('|');
        voterKey = bar > 0 ? vote[..bar] : "";
        at = 0;
        return bar > 0 && long.TryParse(vote.AsSpan(bar + 1), out at);
    }
}

using System.Diagnostics;
using Granary.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Cluster.Membership;

/// <summary>
/// This silo's membership in a cluster, run as Orleans' Redis clustering runs it. The silo joins with a new
/// generation (Joining, then Active), writes its I-am-alive time every <see cref="ClusterOptions.HeartbeatInterval"/>,
/// reads the table every <see cref="ClusterOptions.RefreshInterval"/> and probes every other active silo every
/// <see cref="ClusterOptions.ProbeInterval"/>. A silo that misses <see cref="ClusterOptions.MissedProbesLimit"/> probes
/// in a row gets this silo's death vote; enough fresh votes declare it dead. Whatever the votes, any silo declares
/// dead a silo whose I-am-alive time is older than <see cref="ClusterOptions.DeathTimeout"/>: that is the bound on
/// detection.
/// </summary>
/// <remarks>
/// Redis being unavailable never stops the silo: the loops log one warning per outage, keep their last view of the
/// table and recover by themselves when the client reconnects. When Redis comes back empty (restarted without
/// persistence), every live silo writes its row and the cluster identity again. A silo that finds its own row Dead
/// stops its loops and cancels <see cref="Dead"/>: it must stop serving, and can only come back as a new agent
/// (a new generation).
/// </remarks>
public sealed partial class MembershipAgent : IAsyncDisposable
{
    /// <summary>The last generation handed out in this process, so that generations of one address always grow.</summary>
    private static long s_lastGeneration;

    private readonly ClusterOptions _options;
    private readonly ISiloProber _prober;
    private readonly ILogger _logger;
    private readonly MembershipTable _table;
    private readonly string _secretHash;
    // For messages: the endpoint without the password.
    private readonly string _redisUrl;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _dead = new();
    // Probe loop only: consecutive misses per silo key, and the silos probed this round.
    private readonly Dictionary<string, int> _misses = [];
    private readonly List<SiloRow> _targets = [];
    private Task[] _loops = [];
    private int _joinStarted;
    private volatile SiloRow? _self;
    private volatile MembershipSnapshot _current = MembershipSnapshot.Empty;
    // Refresh loop only: when this silo last read its own live row (Stopwatch ticks), and the server time before
    // which missing heartbeats are not held against anyone (set when Redis answers again after failing).
    private long _selfSeenAt;
    private long _judgeFrom;
    private bool _identityMismatchLogged;
    // Any loop: set by a failure, cleared by the next successful read (which then restarts the grace).
    private volatile bool _storeFailed;
    // 1 during an outage (one warning each), with when it began (Stopwatch ticks).
    private int _outage;
    private long _outageSince;

    /// <summary>Creates the agent of one silo; nothing happens until <see cref="JoinAsync"/>.</summary>
    /// <param name="redis">The client of the cluster's Redis (not owned: the caller disposes it after the agent).</param>
    /// <param name="options">Cluster id, secret, intervals and limits.</param>
    /// <param name="prober">Asks another silo whether it is alive (the transport's ping).</param>
    /// <param name="logger">Where joins, votes, deaths and Redis outages are logged; none when null.</param>
    public MembershipAgent(RedisClient redis, ClusterOptions options, ISiloProber prober, ILogger<MembershipAgent>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(prober);
        _options = options;
        _prober = prober;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _table = new MembershipTable(redis, new ClusterKeys(options.ClusterId));
        _secretHash = MembershipTable.SecretHash(options.Secret);
        _redisUrl = "redis://" + redis.Options.EndPoint;
    }

    /// <summary>This silo's row as last read from the table (its key, generation and status).</summary>
    /// <exception cref="InvalidOperationException">The silo has not joined.</exception>
    public SiloRow Self => _self ?? throw new InvalidOperationException("the silo has not joined the cluster yet (MembershipAgent.JoinAsync)");

    /// <summary>The table as last read (<see cref="MembershipSnapshot.Empty"/> before joining); kept while Redis is unavailable.</summary>
    public MembershipSnapshot Current => _current;

    /// <summary>
    /// Raised, on the refresh loop, after a read that changed the table's version, rows or statuses. Handlers must
    /// return quickly; an exception they throw is logged.
    /// </summary>
    public event Action<MembershipSnapshot>? Changed;

    /// <summary>
    /// Cancelled once this silo's own row is Dead (declared by the others, or after <see cref="LeaveAsync"/>): the silo
    /// must stop serving. Rejoining takes a new agent, which gets a new generation.
    /// </summary>
    public CancellationToken Dead => _dead.Token;

    /// <summary>
    /// Verifies the cluster identity, writes this silo's row (Joining, then Active) with a new generation (Unix ms,
    /// strictly larger than any earlier generation of the same name and address), and starts the heartbeat, refresh
    /// and probe loops.
    /// </summary>
    /// <param name="template">Name, Host, Port, Devices, Roles, GatewayUrl and RankPortBase of this silo; the agent sets
    /// Key, Generation, Status, StartedAt and Suspicions (give any value for the required Key and Generation).</param>
    /// <param name="cancellationToken">Cancels the join (the row may then be left Joining: the others declare it dead).</param>
    /// <returns>The row written, Active.</returns>
    /// <exception cref="ClusterJoinException">The cluster has another secret, or declared this silo dead while it joined.</exception>
    /// <exception cref="ArgumentException">The template or the options cannot work.</exception>
    /// <exception cref="InvalidOperationException">This agent already joined (or tried to).</exception>
    /// <exception cref="ObjectDisposedException">The agent was disposed.</exception>
    /// <exception cref="RedisException">Redis is unavailable.</exception>
    public async Task<SiloRow> JoinAsync(SiloRow template, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(template);
        if (string.IsNullOrWhiteSpace(template.Name) || string.IsNullOrWhiteSpace(template.Host))
            throw new ArgumentException("the silo row template needs a name and a host", nameof(template));
        if (template.Port is <= 0 or > 65535)
            throw new ArgumentException($"silo port {template.Port} is not a TCP port (the template needs the port actually bound)", nameof(template));
        _options.Validate();
        if (Interlocked.Exchange(ref _joinStarted, 1) != 0)
            throw new InvalidOperationException("this agent has already joined (or tried to); rejoining takes a new MembershipAgent");
        ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);

        var (clusterHash, created) = await _table.EnsureIdentityAsync(_secretHash, cancellationToken).ConfigureAwait(false);
        if (clusterHash != _secretHash)
        {
            throw new ClusterJoinException(
                $"this silo's cluster secret does not match cluster '{_options.ClusterId}' on {_redisUrl}: every silo of a cluster needs the same GRANARY_CLUSTER_SECRET");
        }
        if (created) LogClusterCreated(_logger, _options.ClusterId, _redisUrl);

        var before = await _table.ReadAsync(cancellationToken).ConfigureAwait(false);
        long generation = NextGeneration(template, before);
        string key = SiloRow.MakeKey(template.Name, template.Host, template.Port, generation);
        var joining = template with { Key = key, Generation = generation, Status = SiloStatus.Joining, StartedAt = before.Now, Suspicions = [] };
        // The I-am-alive time goes first, so that no silo ever sees this row without one.
        await _table.HeartbeatAsync(key, cancellationToken).ConfigureAwait(false);
        await _table.UpdateAsync(key, (_, _) => joining, cancellationToken).ConfigureAwait(false);
        var active = joining with { Status = SiloStatus.Active };
        if (await _table.UpdateAsync(key, (row, _) => row is { Status: SiloStatus.Joining } ? active : null, cancellationToken).ConfigureAwait(false) is null)
            throw new ClusterJoinException($"silo {key} was declared dead while joining cluster '{_options.ClusterId}' on {_redisUrl} (it took longer than the death timeout)");

        _self = active;
        var snapshot = await _table.ReadAsync(cancellationToken).ConfigureAwait(false);
        _selfSeenAt = Stopwatch.GetTimestamp();
        _judgeFrom = snapshot.Now;
        Publish(snapshot);
        _loops =
        [
            RunLoopAsync("heartbeat", _options.HeartbeatInterval, HeartbeatAsync),
            RunLoopAsync("refresh", _options.RefreshInterval, RefreshAsync),
            RunLoopAsync("probe", _options.ProbeInterval, ProbeRoundAsync),
        ];
        LogJoined(_logger, _options.ClusterId, key, CountActive(snapshot));
        return active;
    }

    /// <summary>
    /// Leaves gracefully: stops the loops, then marks this silo's row ShuttingDown and then Dead, and cancels
    /// <see cref="Dead"/>. Nothing is written when the row is already Dead or missing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The silo has not joined.</exception>
    /// <exception cref="RedisException">Redis is unavailable (the loops are stopped anyway: the others declare this silo dead by its timeout).</exception>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        var self = Self;
        await StopLoopsAsync().ConfigureAwait(false);
        if (_dead.IsCancellationRequested) return;
        await _table.UpdateAsync(self.Key, (row, _) => row is null || row.Status == SiloStatus.Dead ? null : row with { Status = SiloStatus.ShuttingDown },
            cancellationToken).ConfigureAwait(false);
        var dead = await _table.UpdateAsync(self.Key, (row, _) => row is null || row.Status == SiloStatus.Dead ? null : row with { Status = SiloStatus.Dead },
            cancellationToken).ConfigureAwait(false);
        _self = dead ?? self with { Status = SiloStatus.Dead };
        LogLeft(_logger, _options.ClusterId, self.Key);
        _ = _dead.CancelAsync();
    }

    /// <summary>
    /// Stops the loops without touching the table (as a crash would: the others declare this silo dead after
    /// <see cref="ClusterOptions.DeathTimeout"/>); call <see cref="LeaveAsync"/> first to leave gracefully. Does not
    /// dispose the Redis client.
    /// </summary>
    public async ValueTask DisposeAsync() => await StopLoopsAsync().ConfigureAwait(false);

    private async Task StopLoopsAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_loops).ConfigureAwait(false);
    }

    /// <summary>Runs one round every <paramref name="interval"/> until stopped; a failing round counts towards the outage.</summary>
    private async Task RunLoopAsync(string loop, TimeSpan interval, Func<CancellationToken, Task> round)
    {
        var stop = _stop.Token;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                try
                {
                    await round(stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    StoreFailed(loop, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        await _table.HeartbeatAsync(_self!.Key, cancellationToken).ConfigureAwait(false);
        StoreAnswered();
    }

    /// <summary>One read of the table, and everything that follows from it.</summary>
    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var self = _self!;
        long readStart = Stopwatch.GetTimestamp();
        // Sets the identity again when Redis lost it (restarted without persistence).
        var (clusterHash, created) = await _table.EnsureIdentityAsync(_secretHash, cancellationToken).ConfigureAwait(false);
        CheckIdentity(clusterHash, created);
        var snapshot = await _table.ReadAsync(cancellationToken).ConfigureAwait(false);
        StoreAnswered();
        // Nobody could heartbeat while Redis was unreachable, nor while it stalled (a read that waited half the
        // death timeout to be answered): give everyone a death timeout from now.
        if (_storeFailed || Stopwatch.GetElapsedTime(readStart) > _options.DeathTimeout / 2)
        {
            _storeFailed = false;
            _judgeFrom = snapshot.Now;
        }

        var mine = snapshot.Find(self.Key);
        if (mine is null)
        {
            var unseen = Stopwatch.GetElapsedTime(_selfSeenAt);
            if (unseen >= _options.DeadRowRetention / 2)
            {
                // The row may have been removed as dead long ago: writing it again would raise a zombie.
                _self = self with { Status = SiloStatus.Dead };
                Publish(snapshot);
                LogSelfRowGone(_logger, self.Key, (long)unseen.TotalSeconds);
                MarkDead();
                return;
            }
            // Redis lost the table: write this row again, I-am-alive time first, as it was.
            await _table.HeartbeatAsync(self.Key, cancellationToken).ConfigureAwait(false);
            var again = self with { Status = SiloStatus.Active, Suspicions = [] };
            if (await _table.UpdateAsync(self.Key, (row, _) => row is null ? again : null, cancellationToken).ConfigureAwait(false) is not null)
                LogRowRewritten(_logger, self.Key, _redisUrl);
            snapshot = await _table.ReadAsync(cancellationToken).ConfigureAwait(false);
            mine = snapshot.Find(self.Key);
            if (mine is null)
            {
                Publish(snapshot);
                return;
            }
        }

        _self = mine;
        Publish(snapshot);
        if (mine.Status == SiloStatus.Dead)
        {
            LogSelfDeclaredDead(_logger, mine.Key, mine.Suspicions.Count);
            MarkDead();
            return;
        }
        _selfSeenAt = Stopwatch.GetTimestamp();
        await DeclareSilentDeadAsync(snapshot, cancellationToken).ConfigureAwait(false);
        await PruneAsync(snapshot, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Declares dead every other silo whose I-am-alive time is older than the death timeout.</summary>
    private async Task DeclareSilentDeadAsync(MembershipSnapshot snapshot, CancellationToken cancellationToken)
    {
        string selfKey = _self!.Key;
        var timeout = _options.DeathTimeout;
        // Judge the others by their heartbeats only while this silo's own get through: a Redis that stalled
        // everyone is nobody's death.
        if (snapshot.SinceHeartbeat(selfKey) > (long)timeout.TotalMilliseconds / 2) return;
        long judgeFrom = _judgeFrom;
        foreach (var row in snapshot.Rows)
        {
            if (row.Key == selfKey || !DeathRules.IsStale(row, snapshot, judgeFrom, timeout)) continue;
            var dead = await _table.UpdateAsync(row.Key,
                (r, s) => r is not null && DeathRules.IsStale(r, s, judgeFrom, timeout) ? r with { Status = SiloStatus.Dead } : null,
                cancellationToken).ConfigureAwait(false);
            if (dead is not null)
                LogDeclaredDeadByTimeout(_logger, row.Key, snapshot.Now - DeathRules.LastSignOfLife(row, snapshot), (long)timeout.TotalMilliseconds);
        }
    }

    /// <summary>
    /// Removes Dead rows whose last sign of life is older than <see cref="ClusterOptions.DeadRowRetention"/>, and
    /// I-am-alive times that old without a row (a silo that died while joining).
    /// </summary>
    private async Task PruneAsync(MembershipSnapshot snapshot, CancellationToken cancellationToken)
    {
        long retention = (long)_options.DeadRowRetention.TotalMilliseconds;
        List<string>? old = null;
        foreach (var row in snapshot.Rows)
        {
            if (row.Status == SiloStatus.Dead && snapshot.Now - DeathRules.LastSignOfLife(row, snapshot) > retention) (old ??= []).Add(row.Key);
        }
        foreach (var (key, at) in snapshot.Alive)
        {
            if (snapshot.Now - at > retention && snapshot.Find(key) is null) (old ??= []).Add(key);
        }
        // A conflict only means another silo changed the table first: the next refresh tries again.
        if (old is not null && await _table.TryRemoveAsync(old, snapshot.Version, cancellationToken).ConfigureAwait(false))
            LogPruned(_logger, old.Count, (long)_options.DeadRowRetention.TotalSeconds);
    }

    /// <summary>Probes every other active silo at once, counts the misses, and votes those over the limit dead.</summary>
    private async Task ProbeRoundAsync(CancellationToken cancellationToken)
    {
        var snapshot = _current;
        string selfKey = _self!.Key;
        _targets.Clear();
        foreach (var row in snapshot.Rows)
        {
            if (row.Status == SiloStatus.Active && row.Key != selfKey) _targets.Add(row);
        }
        foreach (string key in _misses.Keys)
        {
            if (!IsTarget(key)) _misses.Remove(key);
        }
        if (_targets.Count == 0) return;

        var probes = new Task<bool>[_targets.Count];
        for (int i = 0; i < probes.Length; i++) probes[i] = ProbeAsync(_targets[i], cancellationToken);
        await Task.WhenAll(probes).ConfigureAwait(false);
        for (int i = 0; i < probes.Length; i++)
        {
            var silo = _targets[i];
            if (probes[i].Result)
            {
                _misses.Remove(silo.Key);
                continue;
            }
            int misses = _misses.GetValueOrDefault(silo.Key) + 1;
            _misses[silo.Key] = misses;
            if (misses >= _options.MissedProbesLimit) await VoteAsync(silo, misses, cancellationToken).ConfigureAwait(false);
        }
    }

    private bool IsTarget(string key)
    {
        foreach (var row in _targets)
        {
            if (row.Key == key) return true;
        }
        return false;
    }

    /// <summary>One probe: false when the silo says no, throws, or does not answer within the probe timeout.</summary>
    private async Task<bool> ProbeAsync(SiloRow silo, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ProbeTimeout);
        try
        {
            // WaitAsync also bounds a prober that ignores its token.
            return await _prober.ProbeAsync(silo, timeout.Token).WaitAsync(_options.ProbeTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogProbeFailed(_logger, silo.Key, e);
            return false;
        }
    }

    private async Task VoteAsync(SiloRow suspect, int misses, CancellationToken cancellationToken)
    {
        string voter = _self!.Key;
        int votes = 0, needed = 0;
        var written = await _table.UpdateAsync(suspect.Key,
            (row, snapshot) => DeathRules.Vote(row, snapshot, voter, _options, out votes, out needed), cancellationToken).ConfigureAwait(false);
        if (written is null) return;
        if (written.Status == SiloStatus.Dead)
            LogDeclaredDeadByVotes(_logger, suspect.Key, votes, needed);
        else
            LogVoted(_logger, suspect.Key, misses, votes, needed);
    }

    private void CheckIdentity(string clusterHash, bool created)
    {
        if (clusterHash != _secretHash)
        {
            if (!_identityMismatchLogged) LogIdentityMismatch(_logger, _options.ClusterId, _redisUrl);
            _identityMismatchLogged = true;
            return;
        }
        _identityMismatchLogged = false;
        if (created) LogIdentityRestored(_logger, _options.ClusterId, _redisUrl);
    }

    /// <summary>Makes <paramref name="snapshot"/> current and raises <see cref="Changed"/> when the membership changed.</summary>
    private void Publish(MembershipSnapshot snapshot)
    {
        var previous = _current;
        _current = snapshot;
        if (SameMembership(previous, snapshot)) return;
        try
        {
            Changed?.Invoke(snapshot);
        }
        catch (Exception e)
        {
            LogChangedHandlerFailed(_logger, e);
        }
    }

    private static bool SameMembership(MembershipSnapshot a, MembershipSnapshot b)
    {
        // The version alone is not enough: Redis may have restarted empty and counted up to the same number.
        if (a.Version != b.Version || a.Rows.Count != b.Rows.Count) return false;
        foreach (var row in b.Rows)
        {
            if (a.Find(row.Key) is not { } old || old.Status != row.Status) return false;
        }
        return true;
    }

    /// <summary>Stops the loops (from inside one of them: they end at their next await) and cancels <see cref="Dead"/>.</summary>
    private void MarkDead()
    {
        if (_dead.IsCancellationRequested) return;
        _stop.Cancel();
        // The host's callbacks run on the thread pool, not on this loop.
        _ = _dead.CancelAsync();
    }

    private void StoreFailed(string loop, Exception error)
    {
        _storeFailed = true;
        if (Interlocked.Exchange(ref _outage, 1) == 0)
        {
            _outageSince = Stopwatch.GetTimestamp();
            LogStoreUnavailable(_logger, _redisUrl, loop, error);
        }
        else
        {
            LogStoreStillUnavailable(_logger, loop, error.Message);
        }
    }

    private void StoreAnswered()
    {
        if (Volatile.Read(ref _outage) == 1 && Interlocked.Exchange(ref _outage, 0) == 1)
            LogStoreBack(_logger, _redisUrl, (long)Stopwatch.GetElapsedTime(_outageSince).TotalMilliseconds);
    }

    /// <summary>
    /// Unix ms now, but strictly above every generation of the same name and address in the table and every
    /// generation this process handed out (two agents of one address within a millisecond, or a table Redis lost).
    /// </summary>
    private static long NextGeneration(SiloRow template, MembershipSnapshot snapshot)
    {
        long floor = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var row in snapshot.Rows)
        {
            if (row.Name == template.Name && row.Host == template.Host && row.Port == template.Port) floor = Math.Max(floor, row.Generation + 1);
        }
        long last = Volatile.Read(ref s_lastGeneration);
        while (true)
        {
            long next = Math.Max(floor, last + 1);
            long seen = Interlocked.CompareExchange(ref s_lastGeneration, next, last);
            if (seen == last) return next;
            last = seen;
        }
    }

    private static int CountActive(MembershipSnapshot snapshot)
    {
        int n = 0;
        foreach (var row in snapshot.Rows)
        {
            if (row.Status == SiloStatus.Active) n++;
        }
        return n;
    }
}

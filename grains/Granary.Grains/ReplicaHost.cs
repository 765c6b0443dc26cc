using System.Collections.Concurrent;
using Granary.Cluster;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;
using Granary.Grains.Contracts;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// What this silo runs, outside any grain's lifetime (so that no deactivation ever reloads weights): the replicas the
/// coordinator assigned it (<see cref="Apply"/>), loaded one at a time off the call, and the parts of replicas spanning
/// silos that rank 0's silo asked it to load. Session and rank grains find their replica here.
/// </summary>
public sealed partial class ReplicaHost : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(10);

    private readonly ClusterOptions _options;
    private readonly IGrainFactory _grains;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ReplicaActivation> _active = new();
    private readonly ConcurrentDictionary<string, (long Generation, string Error, DateTime RetryAt)> _failed = new();
    private readonly Lock _lock = new();
    private Task _activating = Task.CompletedTask;
    private bool _stopped;

    private readonly Orleans.Runtime.ILocalSiloDetails _silo;

    public ReplicaHost(ClusterOptions options, IGrainFactory grains, Orleans.Runtime.ILocalSiloDetails silo, ILoggerFactory loggers)
    {
        _options = options;
        _grains = grains;
        _silo = silo;
        _loggers = loggers;
        _logger = loggers.CreateLogger<ReplicaHost>();
    }

    /// <summary>This silo's Orleans address.</summary>
    public string SiloKey => _silo.SiloAddress.ToParsableString();

    /// <summary>The session of a replica generation serving here, or null.</summary>
    public ReplicaSession? FindSession(string replicaId, long generation) => Find(replicaId, generation)?.Session;

    /// <summary>This silo's part of a replica spanning silos (rank 0 elsewhere), or null.</summary>
    internal LocalRanks? FindPart(string replicaId, long generation) => Find(replicaId, generation)?.RemotePart;

    /// <summary>A rank of a replica generation loaded on this silo, or null.</summary>
    internal LoadedRank? FindRank(string replicaId, long generation, int rank) => Find(replicaId, generation)?.Ranks.FirstOrDefault(r => r.Placement.Rank == rank);

    private ReplicaActivation? Find(string replicaId, long generation) =>
        _active.TryGetValue(replicaId, out var a) && a.Placement.Generation == generation ? a : null;

    /// <summary>See <see cref="ISiloGrain.ApplyAsync"/>.</summary>
    public IReadOnlyList<ReplicaState> Apply(IReadOnlyList<ReplicaAssignment> assignments)
    {
        var wanted = assignments.ToDictionary(a => a.Placement.Id);
        lock (_lock)
        {
            if (_stopped) return [];
            foreach (var (id, activation) in _active)
            {
                bool current = wanted.TryGetValue(id, out var a) && a.Placement.Generation == activation.Placement.Generation;
                if (current && activation.BrokenReason is null) continue;
                string why = !current ? a is null ? "it was removed" : "it was placed again" : $"it lost its links ({activation.BrokenReason}); it is activated again";
                Deactivate(id, activation, why);
            }
            if (_activating.IsCompleted)
            {
                var next = assignments.FirstOrDefault(a => a.Placement.SessionSilo == SiloKey && !_active.ContainsKey(a.Placement.Id)
                    && !(_failed.TryGetValue(a.Placement.Id, out var f) && f.Generation == a.Placement.Generation && DateTime.UtcNow < f.RetryAt));
                if (next is not null)
                {
                    _activating = Task.Run(() => ActivateAsync(next));
                }
            }
        }
        return [.. assignments.Where(a => a.Placement.SessionSilo == SiloKey).Select(a => State(a.Placement))];
    }

    private ReplicaState State(ReplicaPlacement placement)
    {
        bool ready = FindSession(placement.Id, placement.Generation) is not null;
        string? error = _failed.TryGetValue(placement.Id, out var f) && f.Generation == placement.Generation ? f.Error : null;
        return new ReplicaState(placement.Id, placement.Generation, ready, error);
    }

    private async Task ActivateAsync(ReplicaAssignment assignment)
    {
        var (placement, spec) = (assignment.Placement, assignment.Deployment);
        var started = DateTime.UtcNow;
        try
        {
            var activation = ReplicaActivation.IsLocal(placement, SiloKey)
                ? await ReplicaActivation.ActivateAsync(placement, spec, CpuThreads(), _options.CallTimeout, _options.Warmup, _loggers).ConfigureAwait(false)
                : await ReplicaActivation.ActivateSpanningAsync(placement, spec, SiloKey, _grains, CpuThreads(), _options.CallTimeout, _options.Warmup, _loggers).ConfigureAwait(false);
            lock (_lock)
            {
                if (_stopped)
                {
                    activation.Dispose();
                    return;
                }
                _active[placement.Id] = activation;
            }
            _failed.TryRemove(placement.Id, out _);
            LogActivated(placement.Id, placement.Generation, Describe(activation), (DateTime.UtcNow - started).TotalSeconds);
            await ActivateRankGrainsAsync(activation).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _failed[placement.Id] = (placement.Generation, e.Message, DateTime.UtcNow + RetryDelay);
            LogActivationFailed(e, placement.Id, e.Message, RetryDelay.TotalSeconds);
        }
    }

    /// <summary>
    /// <see cref="IRankGrain.LoadAsync"/>: rank 0's silo asks this silo to connect and load its ranks of a replica
    /// that spans silos. Answers once they are loaded; replaces an older activation of the replica.
    /// </summary>
    public async Task ActivatePartAsync(ReplicaActivationCall call)
    {
        string replicaId = call.Placement.Id;
        if (call.Placement.Ranks.All(r => r.Silo != SiloKey)) throw new ArgumentException($"replica {replicaId} has no rank on silo {SiloKey}");
        if (_active.TryGetValue(replicaId, out var older))
            Deactivate(replicaId, older, older.Placement.Generation == call.Placement.Generation ? "rank 0 activates it again" : "it was placed again");
        var started = DateTime.UtcNow;
        var activation = await Task.Run(() => ReplicaActivation.ActivatePart(call, SiloKey, CpuThreads(), _options.CallTimeout)).ConfigureAwait(false);
        lock (_lock)
        {
            if (_stopped)
            {
                activation.Dispose();
                throw new ObjectDisposedException(nameof(ReplicaHost), "the silo is stopping");
            }
            _active[replicaId] = activation;
        }
        LogActivated(replicaId, call.Placement.Generation, Describe(activation), (DateTime.UtcNow - started).TotalSeconds);
        await ActivateRankGrainsAsync(activation).ConfigureAwait(false);
    }

    /// <summary>Activates the grain of each rank <paramref name="activation"/> loaded here: each answers for its shard from now on.</summary>
    private Task ActivateRankGrainsAsync(ReplicaActivation activation) => CallRankGrainsAsync(activation, g => g.GetStatusAsync());

    /// <summary>Lets the grains of the ranks <paramref name="activation"/> unloaded go.</summary>
    private Task ReleaseRankGrainsAsync(ReplicaActivation activation) => CallRankGrainsAsync(activation, g => g.ReleaseAsync());

    /// <summary>
    /// Calls the grain of each rank of <paramref name="activation"/> on this silo. A failure is logged, not fatal: the
    /// ranks serve without their grains, a grain not activated is activated by its next call, and one not released
    /// finds no rank at its next call and goes then.
    /// </summary>
    private async Task CallRankGrainsAsync(ReplicaActivation activation, Func<IRankGrain, Task> call)
    {
        try
        {
            await Task.WhenAll(activation.Ranks.Select(r => call(_grains.GetGrain<IRankGrain>(ReplicaGrainKeys.Rank(activation.Placement, r.Placement.Rank))))).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogRankGrainsFailed(e, activation.Placement.Id, e.Message);
        }
    }

    private static string Describe(ReplicaActivation activation) => string.Join(", ", activation.Ranks.Select(r => $"rank {r.Placement.Rank} on {r.Placement.Device}"))
        + (activation.Session is null ? " (rank 0 runs on another silo)" : "");

    private int CpuThreads()
    {
        int cpuDevices = Math.Max(1, _options.Devices.Count(d => d.StartsWith("cpu:", StringComparison.Ordinal)));
        return Math.Max(1, (_options.Threads > 0 ? _options.Threads : Environment.ProcessorCount) / cpuDevices);
    }

    private void Deactivate(string id, ReplicaActivation activation, string why)
    {
        if (!_active.TryRemove(new KeyValuePair<string, ReplicaActivation>(id, activation))) return;
        LogDeactivating(id, activation.Placement.Generation, why);
        // Disposing a session ends its running requests with an error event (gateways resume them) and joins its step thread.
        _ = Task.Run(activation.Dispose);
        _ = ReleaseRankGrainsAsync(activation);
    }

    /// <summary>What this silo's sessions run now, for status.</summary>
    public SiloLoad Load()
    {
        int running = 0, waiting = 0;
        long generated = 0;
        foreach (var activation in _active.Values)
        {
            if (activation.Session is not { } session) continue;
            var metrics = session.Engine.Metrics;
            running += (int)metrics.RunningSequences;
            waiting += (int)metrics.WaitingSequences;
            generated += metrics.GenerationTokensTotal;
        }
        return new SiloLoad { Running = running, Waiting = waiting, GeneratedTokens = generated };
    }

    /// <summary>Stops everything this silo runs (sessions end their requests with an error event).</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock) _stopped = true;
        await _activating.ConfigureAwait(false);
        foreach (var (id, activation) in _active)
        {
            if (_active.TryRemove(id, out _))
            {
                LogDeactivating(id, activation.Placement.Generation, "the silo is stopping");
                activation.Dispose();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} (generation {Generation}) serves here: {Ranks}; loaded in {Seconds:F1} s")]
    private partial void LogActivated(string replica, long generation, string ranks, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Replica {Replica} could not be activated here: {Reason}; trying again in {Seconds} s")]
    private partial void LogActivationFailed(Exception e, string replica, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The rank grains of replica {Replica} could not be activated or released: {Reason}")]
    private partial void LogRankGrainsFailed(Exception e, string replica, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deactivating replica {Replica} (generation {Generation}): {Why}")]
    private partial void LogDeactivating(string replica, long generation, string why);
}

using System.Collections.Concurrent;
using Granary.Cluster;
using Granary.Cluster.Activations;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;
using Granary.Cluster.Transport;
using Granary.Redis;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// Makes this silo run what the placement gives it: it reads the placement, activates the replicas that have ranks
/// on this silo (one at a time, off the request path: loading a shard takes seconds), registers their session grains
/// in the directory once they serve, and deactivates replicas that were removed or placed again elsewhere. It also
/// publishes this silo's load. A Redis outage changes nothing here: what runs keeps running.
/// </summary>
public sealed partial class ReplicaHost : IAsyncDisposable
{
    private readonly DeploymentTable _table;
    private readonly GrainDirectory _directory;
    private readonly MembershipTable _loads;
    private readonly ClusterOptions _options;
    private readonly Func<SiloRow> _self;
    private readonly Func<MembershipSnapshot> _membership;
    private readonly SiloClient _client;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ReplicaActivation> _active = new();
    private readonly ConcurrentDictionary<string, (long Generation, DateTime RetryAt)> _failed = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private Task _activating = Task.CompletedTask;
    private DateTime _registeredAt = DateTime.MinValue;

    public ReplicaHost(RedisClient redis, ClusterOptions options, Func<SiloRow> self, Func<MembershipSnapshot> membership, SiloClient client, ILoggerFactory loggers)
    {
        var keys = new ClusterKeys(options.ClusterId);
        _table = new DeploymentTable(redis, keys);
        _directory = new GrainDirectory(redis, keys);
        _loads = new MembershipTable(redis, keys);
        _membership = membership;
        _client = client;
        _options = options;
        _self = self;
        _loggers = loggers;
        _logger = loggers.CreateLogger<ReplicaHost>();
    }

    /// <summary>The session grains serving on this silo, by replica id.</summary>
    public SessionGrain? FindSession(string replicaId) => _active.TryGetValue(replicaId, out var a) ? a.Session : null;

    public IEnumerable<ReplicaActivation> Activations => _active.Values;

    public void Start() => _loop = Task.Run(() => LoopAsync(_stop.Token));

    private Task LoopAsync(CancellationToken cancellationToken) => StoreLoop.RunAsync(TimeSpan.FromMilliseconds(Math.Max(100, _options.ReconcileInterval.TotalMilliseconds / 2)),
        SyncAsync, reason => { LogStoreFailed(reason); _registeredAt = DateTime.MinValue; }, LogStoreBack, failed: null, cancellationToken);

    private async Task SyncAsync(CancellationToken cancellationToken)
    {
        var self = _self();
        // Redis that lost its data has no placement until a coordinator writes back what it remembers: until then
        // what runs here keeps running, and nothing new starts.
        bool hasState = await _table.HasEpochAsync(cancellationToken).ConfigureAwait(false);
        var placements = (await _table.ReadPlacementsAsync(cancellationToken).ConfigureAwait(false))
            .Where(p => p.Ranks.Any(r => r.Silo == self.Key)).ToDictionary(p => p.Id);

        foreach (var (id, activation) in _active)
        {
            if (!hasState) break;
            bool current = placements.TryGetValue(id, out var wanted) && wanted.Generation == activation.Placement.Generation;
            if (current && activation.BrokenReason is null) continue;
            string why = !current ? wanted is null ? "it was removed" : "it was placed again" : $"it lost its links ({activation.BrokenReason}); it is activated again";
            await DeactivateAsync(id, activation, why, cancellationToken).ConfigureAwait(false);
        }

        if (hasState && _activating.IsCompleted)
        {
            // The silo of rank 0 activates a replica; the other silos of a replica spanning silos load their part when it calls them.
            var next = placements.Values.FirstOrDefault(p => p.Ranks[0].Silo == self.Key && !_active.ContainsKey(p.Id)
                && !(_failed.TryGetValue(p.Id, out var f) && f.Generation == p.Generation && DateTime.UtcNow < f.RetryAt));
            if (next is not null)
            {
                var spec = (await _table.ReadDeploymentsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(d => d.Name == next.Deployment);
                if (spec is not null)
                {
                    _activating = Task.Run(() => ActivateAsync(next, spec, self.Key), CancellationToken.None);
                }
            }
        }

        // The directory is rewritten now and then, and at once after an outage: Redis may have lost it.
        if (!hasState || DateTime.UtcNow - _registeredAt > TimeSpan.FromSeconds(5))
        {
            foreach (var activation in _active.Values) await RegisterAsync(activation, self, cancellationToken).ConfigureAwait(false);
            _registeredAt = DateTime.UtcNow;
        }
        await _loads.PublishLoadAsync(self.Key, Load(), cancellationToken).ConfigureAwait(false);
    }

    private async Task ActivateAsync(ReplicaPlacement placement, DeploymentSpec spec, string siloKey)
    {
        var started = DateTime.UtcNow;
        try
        {
            var activation = ReplicaActivation.IsLocal(placement, siloKey)
                ? ReplicaActivation.Activate(placement, spec, CpuThreads(), _options.CallTimeout, _loggers)
                : await ReplicaActivation.ActivateSpanningAsync(placement, spec, _membership(), siloKey, _client, CpuThreads(), _options.CallTimeout, _loggers).ConfigureAwait(false);
            _active[placement.Id] = activation;
            _failed.TryRemove(placement.Id, out _);
            LogActivated(placement.Id, placement.Generation, Describe(activation), (DateTime.UtcNow - started).TotalSeconds);
            _registeredAt = DateTime.MinValue; // register at the next pass
        }
        catch (Exception e)
        {
            _failed[placement.Id] = (placement.Generation, DateTime.UtcNow + RetryDelay);
            LogActivationFailed(e, placement.Id, e.Message, RetryDelay.TotalSeconds);
        }
    }

    /// <summary>
    /// The transport handler of <c>replica/{id}/activate</c>: rank 0's silo asks this silo to connect and load its ranks
    /// of a replica that spans silos. Answers once they are loaded; replaces an older activation of the replica.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>> ActivatePartAsync(string replicaId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var call = System.Text.Json.JsonSerializer.Deserialize(body.Span, GrainJson.Default.ReplicaActivationCall)
            ?? throw new System.Text.Json.JsonException("an empty activation");
        if (call.Placement.Id != replicaId) throw new ArgumentException($"activation of {call.Placement.Id} sent to replica {replicaId}");
        string siloKey = _self().Key;
        if (_active.TryGetValue(replicaId, out var older)) await DeactivateAsync(replicaId, older, "rank 0 activates it again", cancellationToken).ConfigureAwait(false);
        var started = DateTime.UtcNow;
        var activation = await Task.Run(() => ReplicaActivation.ActivatePart(call, siloKey, CpuThreads(), _options.CallTimeout), cancellationToken).ConfigureAwait(false);
        _active[replicaId] = activation;
        LogActivated(replicaId, call.Placement.Generation, Describe(activation), (DateTime.UtcNow - started).TotalSeconds);
        return ReadOnlyMemory<byte>.Empty;
    }

    /// <summary>The transport handler of <c>replica/{id}/kv</c>: allocates this silo's part of a spanning replica's KV cache.</summary>
    public ValueTask<ReadOnlyMemory<byte>> AllocateKvCache(string replicaId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var part = RemotePart(replicaId);
        var ints = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(body.Span);
        if (ints.Length != 2) throw new InvalidDataException("the KV cache call carries two int32: blocks and block size");
        part.AllocateKvCache(ints[0], ints[1]);
        return ValueTask.FromResult(ReadOnlyMemory<byte>.Empty);
    }

    /// <summary>The transport handler of <c>replica/{id}/step</c>: runs this silo's ranks of a spanning replica for one step plan.</summary>
    public ValueTask<ReadOnlyMemory<byte>> Step(string replicaId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        return ValueTask.FromResult<ReadOnlyMemory<byte>>(RemotePart(replicaId).Step(body.Span));
    }

    private LocalRanks RemotePart(string replicaId) =>
        (_active.TryGetValue(replicaId, out var activation) ? activation.RemotePart : null) ?? throw new GrainNotFoundException(GrainIds.ReplicaType, replicaId);

    private static string Describe(ReplicaActivation activation) => string.Join(", ", activation.Ranks.Select(r => $"rank {r.Placement.Rank} on {r.Placement.Device}"))
        + (activation.Session is null ? " (rank 0 runs on another silo)" : "");

    private int CpuThreads()
    {
        int cpuDevices = Math.Max(1, _self().Devices.Count(d => d.StartsWith("cpu:", StringComparison.Ordinal)));
        return Math.Max(1, (_options.Threads > 0 ? _options.Threads : Environment.ProcessorCount) / cpuDevices);
    }

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(10);

    private async Task RegisterAsync(ReplicaActivation activation, SiloRow self, CancellationToken cancellationToken)
    {
        if (activation.Session is { } session)
            await _directory.RegisterAsync(new GrainActivation(session.GrainId, self.Key, self.Url, session.Generation), cancellationToken).ConfigureAwait(false);
    }

    private async Task DeactivateAsync(string id, ReplicaActivation activation, string why, CancellationToken cancellationToken)
    {
        _active.TryRemove(id, out _);
        LogDeactivating(id, activation.Placement.Generation, why);
        if (activation.Session is { } session)
        {
            try
            {
                await _directory.UnregisterAsync(session.GrainId, _self().Key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or IOException) { }
        }
        activation.Dispose();
    }

    /// <summary>What this silo's sessions run now, for the membership table and status.</summary>
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

    /// <summary>Stops placing and deactivates everything this silo runs (sessions end their requests with an error event).</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        await _activating.ConfigureAwait(false);
        foreach (var (id, activation) in _active)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await DeactivateAsync(id, activation, "the silo is stopping", timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { }
        }
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} (generation {Generation}) serves here: {Ranks}; loaded in {Seconds:F1} s")]
    private partial void LogActivated(string replica, long generation, string ranks, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Replica {Replica} could not be activated here: {Reason}; trying again in {Seconds} s")]
    private partial void LogActivationFailed(Exception e, string replica, string reason, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deactivating replica {Replica} (generation {Generation}): {Why}")]
    private partial void LogDeactivating(string replica, long generation, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The replica host cannot reach Redis ({Reason}); what runs here keeps serving")]
    private partial void LogStoreFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The replica host reaches Redis again")]
    private partial void LogStoreBack();
}

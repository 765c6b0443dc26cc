using Granary.Cluster.Membership;
using Granary.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Cluster.Placement;

/// <summary>
/// The silo holding the coordinator lease compares, every <see cref="ClusterOptions.ReconcileInterval"/>, the desired
/// state with the placement and the membership, and writes what <see cref="PlacementPlanner"/> decides: replicas of
/// dead silos are removed and placed again on free devices, new silos get replicas, deployments that shrank or went
/// away lose theirs. Every silo runs one; only the lease holder places. Every one remembers the last state it read and
/// writes it back when Redis comes back empty (restarted without persistence: the epoch key is gone), so that a lost
/// store undeploys nothing, whichever silo takes the lease afterwards.
/// </summary>
public sealed partial class Coordinator : IAsyncDisposable
{
    private readonly DeploymentTable _table;
    private readonly CoordinatorLease _lease;
    private readonly ClusterOptions _options;
    private readonly Func<MembershipSnapshot> _membership;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private List<DeploymentSpec> _deployments = [];
    private List<ReplicaPlacement> _placements = [];
    private DateTime _restoredAt = DateTime.MinValue;
    private string _unplaced = "";

    /// <param name="membership">The membership table as last read by this silo's agent.</param>
    public Coordinator(RedisClient redis, ClusterOptions options, string siloKey, Func<MembershipSnapshot> membership, ILogger<Coordinator>? logger = null)
    {
        var keys = new ClusterKeys(options.ClusterId);
        _table = new DeploymentTable(redis, keys);
        _lease = new CoordinatorLease(redis, keys, siloKey, options.CoordinatorLease);
        _options = options;
        _membership = membership;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Whether this silo held the lease at its last attempt.</summary>
    public bool IsLeader { get; private set; }

    public void Start() => _loop = Task.Run(() => LoopAsync(_stop.Token));

    private Task LoopAsync(CancellationToken cancellationToken) => StoreLoop.RunAsync(_options.ReconcileInterval, PassAsync, LogStoreFailed, LogStoreBack, failed: null, cancellationToken);

    private async Task PassAsync(CancellationToken cancellationToken)
    {
        // Every silo remembers the desired state and the placement, so that whichever silo finds Redis empty
        // (restarted without persistence) can write them back, leader or not.
        bool hasState = await RememberOrRestoreAsync(cancellationToken).ConfigureAwait(false);
        bool leader = await _lease.TryHoldAsync(cancellationToken).ConfigureAwait(false);
        if (leader != IsLeader)
        {
            if (leader) LogLeader();
            IsLeader = leader;
        }
        if (leader && hasState) await ReconcileAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the deployments and the placement into this silo's memory while Redis holds the cluster's state; when it
    /// lost it, writes back what this silo remembers. False while the store has no state to plan from.
    /// </summary>
    private async Task<bool> RememberOrRestoreAsync(CancellationToken cancellationToken)
    {
        if (await _table.HasEpochAsync(cancellationToken).ConfigureAwait(false))
        {
            _deployments = await _table.ReadDeploymentsAsync(cancellationToken).ConfigureAwait(false);
            _placements = await _table.ReadPlacementsAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        if (_deployments.Count == 0) return false;
        LogRestoring(_deployments.Count, _placements.Count);
        // Placements first: writing a deployment marks the epoch, and silos act on the placement once it is marked.
        foreach (var replica in _placements) await _table.WritePlacementAsync(replica, cancellationToken).ConfigureAwait(false);
        foreach (var spec in _deployments) await _table.WriteDeploymentAsync(spec, cancellationToken).ConfigureAwait(false);
        _restoredAt = DateTime.UtcNow;
        return true;
    }

    /// <summary>One comparison and its writes, from what <see cref="RememberOrRestoreAsync"/> read.</summary>
    private async Task<PlacementChanges> ReconcileAsync(CancellationToken cancellationToken)
    {
        var (deployments, placements) = (_deployments, _placements);
        // Right after a restore the silos have not yet written their rows again: place nothing until they had the time.
        if (DateTime.UtcNow - _restoredAt < _options.RefreshInterval + _options.HeartbeatInterval * 2)
            return new PlacementChanges([], [], []);

        var changes = PlacementPlanner.Plan(deployments, placements, _membership().Rows, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        foreach (string id in changes.Removed)
        {
            await _table.RemovePlacementAsync(id, cancellationToken).ConfigureAwait(false);
            LogRemoved(id);
        }
        foreach (var replica in changes.Placed)
        {
            await _table.WritePlacementAsync(replica, cancellationToken).ConfigureAwait(false);
            LogPlaced(replica.Id, string.Join(", ", replica.Ranks.Select(r => $"rank {r.Rank} on {r.Silo} {r.Device}")));
        }
        var removed = changes.Removed.ToHashSet();
        _placements = [.. placements.Where(p => !removed.Contains(p.Id)), .. changes.Placed];
        string unplaced = string.Join("; ", changes.Unplaced);
        if (unplaced != _unplaced && unplaced.Length > 0) LogUnplaced(unplaced);
        _unplaced = unplaced;
        return changes;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        if (IsLeader)
        {
            // Hand over at once rather than after the lease runs out.
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _lease.ReleaseAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or IOException or OperationCanceledException) { }
        }
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "This silo is the coordinator now")]
    private partial void LogLeader();

    [LoggerMessage(Level = LogLevel.Information, Message = "Placed replica {Replica}: {Ranks}")]
    private partial void LogPlaced(string replica, string ranks);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed replica {Replica}")]
    private partial void LogRemoved(string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot place {Reason}")]
    private partial void LogUnplaced(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis lost the cluster's state: writing back {Deployments} deployments and {Replicas} replicas from the coordinator's memory")]
    private partial void LogRestoring(int deployments, int replicas);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The coordinator cannot reach Redis ({Reason}); replicas keep serving, placement waits")]
    private partial void LogStoreFailed(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "The coordinator reaches Redis again")]
    private partial void LogStoreBack();
}

using Granary.Cluster;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;
using Granary.Grains.Contracts;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OrleansSiloStatus = Orleans.Runtime.SiloStatus;

namespace Granary.Grains.Coordination;

/// <summary>
/// <see cref="ICoordinatorGrain"/>. Each pass reads Orleans' membership, asks new silos what they offer, lets
/// <see cref="PlacementPlanner"/> decide (replicas of dead silos placed again, new silos filled, shrunk deployments
/// trimmed), stores the result, and tells every active silo what it runs (<see cref="ISiloGrain.ApplyAsync"/>), which
/// also says which replicas serve. The state is written back every few passes too, so that a Redis that lost its data
/// gets it again from the coordinator's memory. Every silo calls <see cref="ReconcileAsync"/> when the membership
/// changes, which also reactivates the coordinator on another silo when its own died.
/// </summary>
internal sealed partial class CoordinatorGrain(IClusterStateStore store, IClusterMembershipService membership, ILocalSiloDetails silo, ClusterOptions options,
    ILogger<CoordinatorGrain> logger)
    : Grain, ICoordinatorGrain
{
    private static readonly TimeSpan SiloCallTimeout = TimeSpan.FromSeconds(5);
    private const int RewriteEveryPasses = 5;

    private List<DeploymentSpec> _deployments = [];
    private List<ReplicaPlacement> _placements = [];
    private readonly Dictionary<string, ReplicaState> _states = [];
    private readonly Dictionary<string, SiloInfo> _silos = [];
    private IReadOnlyList<string> _unplaced = [];
    private DateTime _lastPass = DateTime.MinValue;
    private MembershipVersion _lastVersion = MembershipVersion.MinValue;
    private int _passes;
    private bool _dirty;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (await store.ReadAsync(cancellationToken).ConfigureAwait(true) is { } state)
            {
                _deployments = [.. state.Deployments];
                _placements = [.. state.Placements];
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(e.Message);
        }
        LogActive(silo.SiloAddress.ToParsableString(), _deployments.Count, _placements.Count);
        this.RegisterGrainTimer(_ => ReconcileAsync(), new GrainTimerCreationOptions(options.ReconcileInterval, options.ReconcileInterval) { KeepAlive = true, Interleave = false });
    }

    public async Task DeployAsync(DeploymentSpec spec)
    {
        spec.Validate();
        _deployments = [.. _deployments.Where(d => d.Name != spec.Name), spec];
        _dirty = true;
        LogDeployed(spec.Name, spec.Model, spec.TensorParallelSize, spec.PipelineParallelSize, spec.AutoReplicas ? "auto" : spec.Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await PassAsync(force: true).ConfigureAwait(true);
    }

    public async Task<bool> RemoveAsync(string name)
    {
        if (_deployments.All(d => d.Name != name)) return false;
        _deployments = [.. _deployments.Where(d => d.Name != name)];
        _dirty = true;
        LogRemovedDeployment(name);
        await PassAsync(force: true).ConfigureAwait(true);
        return true;
    }

    public Task<ClusterView> GetViewAsync() => Task.FromResult(new ClusterView
    {
        Deployments = _deployments,
        Replicas = [.. _placements.Select(p => _states.TryGetValue(p.Id, out var s) && s.Generation == p.Generation
            ? new ReplicaStatusRow(p, s.Ready, s.Error) : new ReplicaStatusRow(p, false))],
        Unplaced = _unplaced,
        CoordinatorSilo = silo.SiloAddress.ToParsableString(),
    });

    public Task ReconcileAsync() => PassAsync(force: false);

    private async Task PassAsync(bool force)
    {
        var snapshot = membership.CurrentSnapshot;
        // Many silos ask at once after a change: one pass serves them all.
        if (!force && snapshot.Version == _lastVersion && DateTime.UtcNow - _lastPass < options.ReconcileInterval / 2) return;
        _lastPass = DateTime.UtcNow;
        _lastVersion = snapshot.Version;
        var rows = await RowsAsync(snapshot).ConfigureAwait(true);
        var changes = PlacementPlanner.Plan(_deployments, _placements, rows, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        foreach (string id in changes.Removed) LogRemoved(id);
        foreach (var replica in changes.Placed) LogPlaced(replica.Id, string.Join(", ", replica.Ranks.Select(r => $"rank {r.Rank} on {r.Silo} {r.Device}")));
        if (!changes.IsEmpty)
        {
            var removed = changes.Removed.ToHashSet();
            _placements = [.. _placements.Where(p => !removed.Contains(p.Id)), .. changes.Placed];
            _dirty = true;
        }
        string unplaced = string.Join("; ", changes.Unplaced);
        if (unplaced.Length > 0 && unplaced != string.Join("; ", _unplaced)) LogUnplaced(unplaced);
        _unplaced = changes.Unplaced;
        await PersistAsync().ConfigureAwait(true);
        await PushAsync(rows).ConfigureAwait(true);
    }

    /// <summary>The membership as the planner sees it: every silo Orleans knows, and every silo a placement names.</summary>
    private async Task<List<SiloRow>> RowsAsync(ClusterMembershipSnapshot snapshot)
    {
        var rows = new List<SiloRow>();
        foreach (var member in snapshot.Members.Values)
        {
            string key = member.SiloAddress.ToParsableString();
            var status = Map(member.Status);
            SiloInfo? info = null;
            if (status == Cluster.Membership.SiloStatus.Active && !_silos.TryGetValue(key, out info))
            {
                try
                {
                    info = await GrainFactory.GetGrain<ISiloGrain>(SiloGrainKey.For(key)).GetInfoAsync().WaitAsync(SiloCallTimeout).ConfigureAwait(true);
                    _silos[key] = info;
                }
                catch (Exception e)
                {
                    LogSiloUnreachable(key, e.Message);
                    status = Cluster.Membership.SiloStatus.Joining; // not placed on until it answers
                }
            }
            rows.Add(Row(member.SiloAddress, member.Name, status, info));
        }
        foreach (string gone in _silos.Keys.Where(k => !snapshot.Members.Values.Any(m => m.SiloAddress.ToParsableString() == k && m.Status == OrleansSiloStatus.Active)).ToList())
            _silos.Remove(gone);
        // A silo no longer in the membership table at all (removed as defunct) is dead for the planner.
        foreach (string silo in _placements.SelectMany(p => p.Ranks).Select(r => r.Silo).Distinct())
        {
            if (rows.All(r => r.Key != silo)) rows.Add(Row(SiloAddress.FromParsableString(silo), "", Cluster.Membership.SiloStatus.Dead, null));
        }
        return rows;
    }

    /// <summary>A silo as the planner and status see it: Orleans' entry joined with what the silo advertises (null: not known).</summary>
    internal static SiloRow Row(SiloAddress address, string? name, Cluster.Membership.SiloStatus status, SiloInfo? info) => new()
    {
        Key = address.ToParsableString(),
        Name = info?.Name ?? name ?? "",
        Host = address.Endpoint.Address.ToString(),
        Port = address.Endpoint.Port,
        Generation = address.Generation,
        Status = status,
        Devices = info?.Devices ?? [],
        Roles = info?.Roles ?? [],
        GatewayUrl = info?.GatewayUrl,
        RankPortBase = info?.RankPortBase ?? 0,
    };

    internal static Cluster.Membership.SiloStatus Map(OrleansSiloStatus status) => status switch
    {
        OrleansSiloStatus.Active => Cluster.Membership.SiloStatus.Active,
        OrleansSiloStatus.ShuttingDown or OrleansSiloStatus.Stopping => Cluster.Membership.SiloStatus.ShuttingDown,
        OrleansSiloStatus.Dead => Cluster.Membership.SiloStatus.Dead,
        _ => Cluster.Membership.SiloStatus.Joining,
    };

    private async Task PersistAsync()
    {
        if (!_dirty && ++_passes % RewriteEveryPasses != 0) return;
        try
        {
            using var timeout = new CancellationTokenSource(SiloCallTimeout);
            await store.WriteAsync(new CoordinatorState { Deployments = _deployments, Placements = _placements }, timeout.Token).ConfigureAwait(true);
            _dirty = false;
        }
        catch (Exception e)
        {
            LogStoreFailed(e.Message); // kept in memory and written at a later pass
        }
    }

    /// <summary>Tells every active silo what it runs, and learns which replicas serve.</summary>
    private async Task PushAsync(List<SiloRow> rows)
    {
        var specs = _deployments.ToDictionary(d => d.Name);
        var active = rows.Where(r => r.Status == Cluster.Membership.SiloStatus.Active && _silos.ContainsKey(r.Key)).ToList();
        var calls = active.Select(async silo =>
        {
            var mine = _placements.Where(p => p.Ranks.Any(r => r.Silo == silo.Key) && specs.ContainsKey(p.Deployment))
                .Select(p => new ReplicaAssignment(p, specs[p.Deployment])).ToList();
            try
            {
                return await GrainFactory.GetGrain<ISiloGrain>(SiloGrainKey.For(silo.Key)).ApplyAsync(mine).WaitAsync(SiloCallTimeout).ConfigureAwait(true);
            }
            catch (Exception e)
            {
                LogSiloUnreachable(silo.Key, e.Message);
                return [];
            }
        }).ToList();
        var states = await Task.WhenAll(calls).ConfigureAwait(true);
        var live = _placements.ToDictionary(p => p.Id);
        foreach (string id in _states.Keys.Where(id => !live.ContainsKey(id)).ToList()) _states.Remove(id);
        foreach (var state in states.SelectMany(s => s))
        {
            if (live.TryGetValue(state.Id, out var p) && p.Generation == state.Generation)
            {
                if (_states.TryGetValue(state.Id, out var before) && !before.Ready && state.Ready) LogReady(state.Id, state.Generation);
                _states[state.Id] = state;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The coordinator is active on silo {Silo}: {Deployments} deployments, {Replicas} replicas")]
    private partial void LogActive(string silo, int deployments, int replicas);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {Name}: {Model}, tp {Tp} x pp {Pp}, replicas {Replicas}")]
    private partial void LogDeployed(string name, string model, int tp, int pp, string replicas);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deployment {Name} removed")]
    private partial void LogRemovedDeployment(string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Placed replica {Replica}: {Ranks}")]
    private partial void LogPlaced(string replica, string ranks);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed replica {Replica}")]
    private partial void LogRemoved(string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} (generation {Generation}) serves")]
    private partial void LogReady(string replica, long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot place {Reason}")]
    private partial void LogUnplaced(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Silo} did not answer the coordinator: {Reason}")]
    private partial void LogSiloUnreachable(string silo, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The coordinator cannot reach its store ({Reason}); it keeps its state in memory and writes it later")]
    private partial void LogStoreFailed(string reason);
}

using Granary.Cluster.Placement;
using Granary.Grains.Contracts;
using Granary.Compute.Collectives;
using Granary.Engine;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// What one silo runs of one replica: the rank grains placed on it and, when rank 0 is here, the session grain. A
/// replica whose ranks all live on this silo links them in-process (a method call per step, no socket); one that
/// spans silos links them over TCP, and rank 0's silo sends each step's plan to the others' lead rank grains (<see cref="SpanningExecutor"/>).
/// </summary>
public sealed class ReplicaActivation : IDisposable
{
    private readonly LocalRanks? _spanning;

    private ReplicaActivation(ReplicaPlacement placement, IReadOnlyList<LoadedRank> ranks, ReplicaSession? session, LocalRanks? spanning)
    {
        Placement = placement;
        Ranks = ranks;
        Session = session;
        _spanning = spanning;
    }

    public ReplicaPlacement Placement { get; }
    public IReadOnlyList<LoadedRank> Ranks { get; }

    /// <summary>The session grain, when this silo holds rank 0.</summary>
    public ReplicaSession? Session { get; }

    /// <summary>Why a replica spanning silos lost its links (then it must be activated again), or null.</summary>
    public string? BrokenReason => _spanning?.AbortReason;

    /// <summary>A silo's part of a replica spanning silos, for the plans rank 0's silo sends; null for other replicas or with rank 0.</summary>
    internal LocalRanks? RemotePart => Session is null ? _spanning : null;

    /// <summary>Whether every rank of the placement is on <paramref name="siloKey"/>.</summary>
    public static bool IsLocal(ReplicaPlacement placement, string siloKey) => placement.Ranks.All(r => r.Silo == siloKey);

    /// <summary>Loads a replica whose ranks are all on this silo and starts its session (loading blocks: run it off the request path).</summary>
    /// <param name="cpuThreads">CPU threads each CPU rank gets.</param>
    /// <param name="warmup">The session's warm-up (<see cref="ReplicaModel.StartSessionAsync"/>).</param>
    public static async Task<ReplicaActivation> ActivateAsync(ReplicaPlacement placement, DeploymentSpec spec, int cpuThreads, TimeSpan timeout, TimeSpan? warmup, ILoggerFactory loggers)
    {
        var model = ReplicaModel.Load(spec);
        var plan = model.Plan;
        var group = new InProcessGroup(plan.WorldSize);
        LoadedRank[] ranks = [];
        IModelExecutor? executor = null;
        try
        {
            var progress = new LoadProgressLog(loggers.CreateLogger<ReplicaActivation>(), placement.Id, TimeProvider.System);
            ranks = RankLoader.LoadAll(plan.WorldSize, r => LoadedRank.Load(placement, spec, plan, r, group.Transport(r), cpuThreads, model.MaxRows, model.MaxPositions, timeout, r == 0 ? progress : null),
                g => g.Shard.Dispose(), group.Abort);
            executor = new InProcessGroupExecutor(plan, ranks.Select(g => g.Shard).ToList(), group);
            return new ReplicaActivation(placement, ranks, await model.StartSessionAsync(placement, executor, warmup, loggers).ConfigureAwait(false), spanning: null);
        }
        catch
        {
            if (executor is not null) executor.Dispose();
            else
            {
                foreach (var rank in ranks) rank.Shard.Dispose();
                group.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Rank 0's silo of a replica that spans silos: asks the lead rank grain of every other silo of the replica to
    /// connect and load its ranks (the rank addresses travel in the call), connects and loads its own meanwhile, then
    /// starts the session.
    /// </summary>
    internal static async Task<ReplicaActivation> ActivateSpanningAsync(ReplicaPlacement placement, DeploymentSpec spec, string siloKey,
        IGrainFactory grains, int cpuThreads, TimeSpan timeout, TimeSpan? warmup, ILoggerFactory loggers)
    {
        var model = ReplicaModel.Load(spec);
        var silos = placement.Ranks.Select(r => r.Silo).Distinct().ToList();
        var infos = await Task.WhenAll(silos.Select(s => grains.GetGrain<ISiloGrain>(SiloGrainKey.For(s)).GetInfoAsync())).ConfigureAwait(false);
        var bySilo = silos.Zip(infos).ToDictionary(p => p.First, p => p.Second);
        var call = new ReplicaActivationCall(placement, spec, Addresses(placement, bySilo));
        // The lowest rank of each other silo leads that silo's part.
        var others = silos.Where(s => s != siloKey).ToList();
        var leads = others.Select(s => grains.GetGrain<IRankGrain>(ReplicaGrainKeys.Rank(placement, placement.Ranks.First(r => r.Silo == s).Rank))).ToList();
        var loads = leads.Select(g => g.LoadAsync(call)).ToArray();
        LocalRanks? local = null;
        try
        {
            var progress = new LoadProgressLog(loggers.CreateLogger<ReplicaActivation>(), placement.Id, TimeProvider.System);
            local = await Task.Run(() => LocalRanks.Connect(placement, spec, model.Plan, siloKey, call.Addresses, cpuThreads, model.MaxRows, model.MaxPositions, timeout, progress)).ConfigureAwait(false);
            await Task.WhenAll(loads).ConfigureAwait(false);
            string logitsSilo = placement.Ranks[model.Plan.LogitsRank].Silo;
            int logitsIndex = others.IndexOf(logitsSilo); // -1: this silo
            var executor = new SpanningExecutor(placement.Id, model.Plan, local, leads, logitsIndex, timeout);
            return new ReplicaActivation(placement, local.Grains, await model.StartSessionAsync(placement, executor, warmup, loggers).ConfigureAwait(false), local);
        }
        catch
        {
            local?.Dispose();
            try
            {
                await Task.WhenAll(loads).ConfigureAwait(false);
            }
            catch (Exception) { } // the first failure is the one thrown
            throw;
        }
    }

    /// <summary>Another silo's part of a replica that spans silos, at rank 0's call: connects and loads this silo's ranks (blocking).</summary>
    internal static ReplicaActivation ActivatePart(ReplicaActivationCall call, string siloKey, int cpuThreads, TimeSpan timeout)
    {
        var model = ReplicaModel.Load(call.Deployment);
        var local = LocalRanks.Connect(call.Placement, call.Deployment, model.Plan, siloKey, call.Addresses, cpuThreads, model.MaxRows, model.MaxPositions, timeout);
        return new ReplicaActivation(call.Placement, local.Grains, session: null, local);
    }

    /// <summary>Each rank's TCP address: its silo's host and rank port base plus its device index.</summary>
    private static PeerAddress[] Addresses(ReplicaPlacement placement, IReadOnlyDictionary<string, SiloInfo> silos) =>
        [.. placement.Ranks.Select(r => new PeerAddress(silos[r.Silo].Host, silos[r.Silo].RankPortBase + int.Parse(r.Device.AsSpan(r.Device.IndexOf(':') + 1), System.Globalization.CultureInfo.InvariantCulture)))];

    /// <summary>Stops the session (its running requests end with an error event, which gateways resume elsewhere) and frees the ranks.</summary>
    public void Dispose()
    {
        if (Session is not null) Session.Dispose();
        else _spanning?.Dispose();
    }
}

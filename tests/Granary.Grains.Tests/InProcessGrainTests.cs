using System.Diagnostics;
using Granary.Client.Orleans;
using Granary.Cluster;
using Granary.Cluster.Placement;
using Granary.Grains.Contracts;
using Granary.Grains.Coordination;
using Granary.Grains.Placement;
using Granary.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace Granary.Grains.Tests;

/// <summary>
/// Grains in three silos of this process (Orleans' TestingHost, in-memory membership), each silo offering one CPU
/// device: pinned grains live where their key says and fail at once when their silo is gone; the coordinator places
/// replicas over the silos' devices, refuses bad deployments and places again when a silo stops; the model grain
/// refuses an unknown model with a clear exception.
/// </summary>
public sealed class InProcessGrainTests : IAsyncLifetime
{
    private InProcessTestCluster _cluster = null!;

    public async ValueTask InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        // One store for every silo, as Redis is for a real cluster: the coordinator keeps its state wherever it is activated.
        var store = new MemoryClusterStateStore();
        builder.ConfigureSilo((options, silo) =>
        {
            // Orleans' default probe timings: silos of one busy test process must not declare each other dead.
            var cluster = new ClusterOptions
            {
                SiloName = options.SiloName, Devices = ["cpu:0"], ReconcileInterval = TimeSpan.FromMilliseconds(200),
                ProbeTimeout = TimeSpan.FromSeconds(5), MissedProbesLimit = 3,
            };
            silo.AddGranaryGrains(cluster, store);
        });
        builder.ConfigureClient(client =>
        {
            client.Services.AddSerializer(s => s.AddGranaryTypes());
            client.AddActivityPropagation();
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    private IGrainFactory Grains => _cluster.Client;

    private string[] SiloKeys => [.. _cluster.Silos.Select(s => s.SiloAddress.ToParsableString())];

    [Fact]
    public async Task PinnedGrainsLiveOnTheSiloTheirKeyNamesAndFailAtOnceWhenItIsGone()
    {
        foreach (var silo in _cluster.Silos)
        {
            var info = await Grains.GetGrain<ISiloGrain>(SiloGrainKey.For(silo.SiloAddress.ToParsableString())).GetInfoAsync();
            Assert.Equal(silo.Name, info.Name);
            Assert.Equal(["cpu:0"], info.Devices);
        }
        var victim = _cluster.Silos[2];
        string key = victim.SiloAddress.ToParsableString();
        await _cluster.StopSiloAsync(victim);
        await _cluster.WaitForLivenessToStabilizeAsync();
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<Exception>(() => Grains.GetGrain<ISiloGrain>(SiloGrainKey.For(key)).GetInfoAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"a grain of a dead silo took {clock.Elapsed.TotalSeconds:F1} s to fail");
        Assert.Throws<FormatException>(() => PinnedKey.Silo("no-silo-here"));
    }

    [Fact]
    public async Task TheCoordinatorPlacesOneReplicaPerDeviceRefusesBadDeploymentsAndPlacesAgainWhenASiloStops()
    {
        var coordinator = Grains.GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key);
        var bad = await Assert.ThrowsAsync<ArgumentException>(() => coordinator.DeployAsync(new DeploymentSpec { Name = "m", Model = "/nowhere", TensorParallelSize = 0 }));
        Assert.Contains("--tp", bad.Message);
        Assert.False(await coordinator.RemoveAsync("never-deployed"));

        // The model folder does not exist: the silos fail to load it and say why, but placement is what is tested here.
        await coordinator.DeployAsync(new DeploymentSpec { Name = "m", Model = "/nowhere/model", Replicas = 3 });
        var view = await Eventually(coordinator, v => v.Replicas.Count == 3 && v.Replicas.All(r => r.Error is not null));
        Assert.Equal(SiloKeys.Order(), view.Replicas.Select(r => r.Placement.SessionSilo).Order());
        Assert.All(view.Replicas, r => Assert.Contains("/nowhere/model", r.Error));

        var victim = _cluster.Silos[1];
        string gone = victim.SiloAddress.ToParsableString();
        await _cluster.StopSiloAsync(victim);
        view = await Eventually(coordinator, v => v.Replicas.Count == 2 && v.Replicas.All(r => r.Placement.SessionSilo != gone) && v.Unplaced.Count == 1);
        Assert.Contains("needs 1 free cpu devices", view.Unplaced[0]);

        await _cluster.StartAdditionalSiloAsync();
        view = await Eventually(coordinator, v => v.Replicas.Count == 3 && v.Unplaced.Count == 0);
        Assert.True(await coordinator.RemoveAsync("m"));
        await Eventually(coordinator, v => v.Replicas.Count == 0 && v.Deployments.Count == 0);
    }

    [Fact]
    public async Task ARequestsTraceFollowsItsGrainCallsAcrossSilos()
    {
        var seen = new System.Collections.Concurrent.ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = seen.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var test = new Activity("request").Start();
        // The silo grain of the last silo asks the first one's: a call from the client, then one from silo to silo.
        string first = SiloKeys[0], last = SiloKeys[^1];
        await Grains.GetGrain<ISiloGrain>(SiloGrainKey.For(last)).TimeCallsAsync(first, calls: 1, requestBytes: 16, responseBytes: 4);
        test.Stop();
        var mine = seen.Where(a => a.TraceId == test.TraceId).ToList();
        Assert.Contains(mine, a => a.DisplayName.Contains("EchoAsync", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheModelGrainRefusesAnUnknownModelAndTheClusterGoesOn()
    {
        var e = await Assert.ThrowsAsync<GranaryRequestException>(async () =>
        {
            await foreach (var _ in Grains.GetGrain<IModelGrain>("nope").GenerateAsync(new GranaryRequest { Prompt = "Once upon a time" })) { }
        });
        Assert.Equal("model_not_found", e.Code);
        Assert.Contains("nope", e.Message);
        Assert.NotNull(await Grains.GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key).GetViewAsync());
    }

    [Fact]
    public async Task ARankGrainOfARankNotLoadedOnItsSiloSaysSoAndTheSiloGoesOn()
    {
        var placement = new ReplicaPlacement { Id = "absent/0", Deployment = "absent", Generation = 1, Ranks = [new RankPlacement(0, SiloKeys[0], "cpu:0")] };
        var rank = Grains.GetGrain<IRankGrain>(ReplicaGrainKeys.Rank(placement, 0));
        var e = await Assert.ThrowsAsync<ReplicaNotServingException>(rank.GetStatusAsync);
        Assert.Contains("rank 0 of replica absent/0 (generation 1) is not loaded", e.Message);
        await Assert.ThrowsAsync<ReplicaNotServingException>(() => rank.StepAsync(new byte[64]));
        Assert.Equal(_cluster.Silos[0].Name, (await Grains.GetGrain<ISiloGrain>(SiloGrainKey.For(SiloKeys[0])).GetInfoAsync()).Name);
    }

    private static async Task<ClusterView> Eventually(ICoordinatorGrain coordinator, Func<ClusterView, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var view = await coordinator.GetViewAsync();
            if (condition(view)) return view;
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                throw new Xunit.Sdk.XunitException($"the coordinator (on {view.CoordinatorSilo}) did not get there in 30 s: {view.Deployments.Count} deployments, {view.Replicas.Count} replicas, unplaced [{string.Join("; ", view.Unplaced)}]");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();
}

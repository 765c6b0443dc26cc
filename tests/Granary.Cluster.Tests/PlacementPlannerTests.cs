using Granary.Cluster.Membership;
using Granary.Cluster.Placement;

namespace Granary.Cluster.Tests;

/// <summary>Where the coordinator puts replicas, as a pure function of desired state, placement and membership.</summary>
public sealed class PlacementPlannerTests
{
    private static SiloRow Silo(string name, SiloStatus status = SiloStatus.Active, params string[] devices) => new()
    {
        Key = $"{name}@127.0.0.1:1/1", Name = name, Host = "127.0.0.1", Port = 1, Generation = 1, Status = status,
        Devices = devices.Length > 0 ? devices : ["cpu:0", "cpu:1"],
    };

    private static DeploymentSpec Spec(int tp, int replicas, bool auto = false, string name = "m") =>
        new() { Name = name, Model = "/models/m", TensorParallelSize = tp, Replicas = replicas, AutoReplicas = auto };

    [Fact]
    public void ThreeReplicasOfTp2GoOneToEachSiloOfTwoDevices()
    {
        var silos = new[] { Silo("a"), Silo("b"), Silo("c") };
        var changes = PlacementPlanner.Plan([Spec(2, 3)], [], silos, generation: 7);
        Assert.Equal(3, changes.Placed.Count);
        Assert.Empty(changes.Removed);
        Assert.All(changes.Placed, r => Assert.Single(r.Ranks.Select(k => k.Silo).Distinct()));
        Assert.Equal(3, changes.Placed.Select(r => r.SessionSilo).Distinct().Count());
        Assert.Equal(["m/0", "m/1", "m/2"], changes.Placed.Select(r => r.Id).Order());
        Assert.All(changes.Placed, r => Assert.Equal(7, r.Generation));
    }

    [Fact]
    public void ReplicasSpreadOverSilosBeforeDoublingUp()
    {
        var silos = new[] { Silo("a", devices: ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]), Silo("b", devices: ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]) };
        var changes = PlacementPlanner.Plan([Spec(1, 2)], [], silos, 1);
        Assert.Equal(2, changes.Placed.Select(r => r.SessionSilo).Distinct().Count());
    }

    [Fact]
    public void AReplicaOfADeadSiloIsRemovedAndPlacedOnAFreeDevice()
    {
        var silos = new[] { Silo("a"), Silo("b"), Silo("c"), Silo("d") };
        var first = PlacementPlanner.Plan([Spec(2, 3)], [], silos, 1).Placed;
        var victim = first[0].SessionSilo;
        var after = silos.Select(s => s.Key == victim ? s with { Status = SiloStatus.Dead } : s).ToArray();
        var changes = PlacementPlanner.Plan([Spec(2, 3)], first, after, 2);
        Assert.Equal([first[0].Id], changes.Removed);
        var rebuilt = Assert.Single(changes.Placed);
        Assert.Equal(first[0].Id, rebuilt.Id);
        Assert.Equal(2, rebuilt.Generation);
        Assert.NotEqual(victim, rebuilt.SessionSilo);
        Assert.DoesNotContain(rebuilt.SessionSilo, first.Skip(1).Select(r => r.SessionSilo));
    }

    [Fact]
    public void WithoutFreeDevicesTheLostReplicaWaitsAndIsReported()
    {
        var silos = new[] { Silo("a"), Silo("b") };
        var first = PlacementPlanner.Plan([Spec(2, 2)], [], silos, 1).Placed;
        var after = new[] { silos[0] with { Status = SiloStatus.Dead }, silos[1] };
        var changes = PlacementPlanner.Plan([Spec(2, 2)], first, after, 2);
        Assert.Single(changes.Removed);
        Assert.Empty(changes.Placed);
        Assert.Contains("needs 2 free cpu devices", Assert.Single(changes.Unplaced));
    }

    [Fact]
    public void ASiloMissingFromTheTableKeepsItsReplicas()
    {
        // Redis lost its data and the silo has not written its row again yet: not a death.
        var silos = new[] { Silo("a"), Silo("b") };
        var first = PlacementPlanner.Plan([Spec(2, 2)], [], silos, 1).Placed;
        var changes = PlacementPlanner.Plan([Spec(2, 2)], first, [silos[1]], 2);
        Assert.True(changes.IsEmpty);
    }

    [Fact]
    public void AJoiningSiloGetsAReplicaWhenOneIsMissing()
    {
        var silos = new List<SiloRow> { Silo("a"), Silo("b") };
        var first = PlacementPlanner.Plan([Spec(2, 3)], [], silos, 1);
        Assert.Equal(2, first.Placed.Count);
        silos.Add(Silo("c"));
        var changes = PlacementPlanner.Plan([Spec(2, 3)], first.Placed, silos, 2);
        var added = Assert.Single(changes.Placed);
        Assert.Equal(silos[2].Key, added.SessionSilo);
    }

    [Fact]
    public void AutoReplicasFillEveryFreeDeviceAndGrowWithNewSilos()
    {
        var silos = new List<SiloRow> { Silo("a"), Silo("b") };
        var first = PlacementPlanner.Plan([Spec(1, 0, auto: true)], [], silos, 1);
        Assert.Equal(4, first.Placed.Count);
        silos.Add(Silo("c"));
        var more = PlacementPlanner.Plan([Spec(1, 0, auto: true)], first.Placed, silos, 2);
        Assert.Equal(2, more.Placed.Count);
        Assert.All(more.Placed, r => Assert.Equal(silos[2].Key, r.SessionSilo));
        Assert.Empty(more.Unplaced);
    }

    [Fact]
    public void AReplicaLargerThanAnySiloSpansSilosInRankOrder()
    {
        var silos = new[] { Silo("a"), Silo("b") };
        var placed = Assert.Single(PlacementPlanner.Plan([Spec(4, 1)], [], silos, 1).Placed);
        Assert.Equal([0, 1, 2, 3], placed.Ranks.Select(r => r.Rank));
        Assert.Equal(placed.Ranks[0].Silo, placed.Ranks[1].Silo);
        Assert.Equal(placed.Ranks[2].Silo, placed.Ranks[3].Silo);
        Assert.NotEqual(placed.Ranks[0].Silo, placed.Ranks[2].Silo);
    }

    [Fact]
    public void ShrinkingOrDeletingADeploymentRemovesItsReplicas()
    {
        var silos = new[] { Silo("a"), Silo("b"), Silo("c") };
        var three = PlacementPlanner.Plan([Spec(2, 3)], [], silos, 1).Placed;
        Assert.Equal(["m/2"], PlacementPlanner.Plan([Spec(2, 2)], three, silos, 2).Removed);
        Assert.Equal(3, PlacementPlanner.Plan([], three, silos, 2).Removed.Count);
    }

    [Fact]
    public void ReplicasOfAnotherLayoutArePlacedAgain()
    {
        var silos = new[] { Silo("a"), Silo("b") };
        var tp2 = PlacementPlanner.Plan([Spec(2, 1)], [], silos, 1).Placed;
        var pp2 = Spec(1, 1) with { PipelineParallelSize = 2 };
        var changes = PlacementPlanner.Plan([pp2], tp2, silos, 2);
        Assert.Equal(["m/0"], changes.Removed);
        Assert.Equal(pp2.Layout, Assert.Single(changes.Placed).Layout);
    }

    [Fact]
    public void DevicesOfTheWrongKindAreNotUsed()
    {
        var silos = new[] { Silo("a", devices: ["cuda:0", "cuda:1"]), Silo("b") };
        var placed = Assert.Single(PlacementPlanner.Plan([Spec(2, 1)], [], silos, 1).Placed);
        Assert.All(placed.Ranks, r => Assert.StartsWith("cpu:", r.Device));
        var cuda = Assert.Single(PlacementPlanner.Plan([Spec(2, 1) with { DeviceKind = "cuda" }], [], silos, 1).Placed);
        Assert.All(cuda.Ranks, r => Assert.StartsWith("cuda:", r.Device));
    }

    [Fact]
    public void LeavingOrJoiningSilosTakeNoReplica()
    {
        var silos = new[] { Silo("a", SiloStatus.Joining), Silo("b", SiloStatus.ShuttingDown) };
        var changes = PlacementPlanner.Plan([Spec(1, 1)], [], silos, 1);
        Assert.Empty(changes.Placed);
        Assert.Single(changes.Unplaced);
    }
}

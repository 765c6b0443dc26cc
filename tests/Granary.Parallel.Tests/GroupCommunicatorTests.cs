using System.Diagnostics;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Compute.Cpu;
using Granary.Engine;

namespace Granary.Parallel.Tests;

/// <summary>How a group's ranks agree on their collectives when they load, and loading the ranks of one process together.</summary>
public class GroupCommunicatorTests
{
    private static readonly Guid GpuA = Guid.NewGuid(), GpuB = Guid.NewGuid();

    public static TheoryData<GroupCommunicator.Member[], bool> Groups => new()
    {
        { [new(GpuA, true), new(GpuB, true)], true },
        // NCCL refuses two ranks on one GPU: they stage through the host.
        { [new(GpuA, true), new(GpuA, true)], false },
        { [new(GpuA, true), new(GpuB, false)], false },
        { [new(GpuA, true), new(null, false)], false },
        { [new(null, false), new(null, false)], false },
    };

    [Theory]
    [MemberData(nameof(Groups))]
    public void NcclServesOnlyDistinctGpusThatAllHaveIt(GroupCommunicator.Member[] members, bool nccl) => Assert.Equal(nccl, GroupCommunicator.UseNccl(members));

    [Fact]
    public void CpuRanksAgreeOnTheHostCollectives()
    {
        using var group = new InProcessGroup(3);
        var made = RankLoader.LoadAll(3, r =>
        {
            using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1 });
            var communicator = GroupCommunicator.Create(backend, group.Transport(r), [0, 1, 2], TimeSpan.FromSeconds(20), out string how);
            using var x = new CpuBuffer(DType.F32, 1);
            x.AsFloats()[0] = r + 1;
            communicator.AllReduceSum(x, 1);
            return (Type: communicator.GetType(), How: how, Sum: x.AsFloats()[0]);
        }, _ => { }, group.Abort);
        Assert.All(made, m => Assert.Equal((typeof(PeerCommunicator), "host", 6f), m));
    }

    [Fact]
    public void ARankThatFailsToLoadStopsTheOthersWaitingForIt()
    {
        using var group = new InProcessGroup(3);
        var disposed = 0;
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<InvalidDataException>(() => RankLoader.LoadAll(3, r =>
        {
            if (r == 1) throw new InvalidDataException("rank 1's checkpoint is damaged");
            using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1 });
            // Without the abort, ranks 0 and 2 would wait here for rank 1 for the whole minute.
            return GroupCommunicator.Create(backend, group.Transport(r), [0, 1, 2], TimeSpan.FromSeconds(60), out _);
        }, _ => Interlocked.Increment(ref disposed), group.Abort));
        Assert.Equal("rank 1's checkpoint is damaged", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(0, disposed);
    }
}

using System.Diagnostics;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Compute.Cpu;

namespace Granary.Parallel.Tests;

/// <summary>The collectives over in-process and TCP transports: results, subgroups, lost peers and timeouts.</summary>
public class CollectiveTests
{
    private static IPeerTransport[] Transports(string kind, int size)
    {
        if (kind == "inproc")
        {
            var group = new InProcessGroup(size);
            return Enumerable.Range(0, size).Select(group.Transport).ToArray();
        }
        int start = Ports.FreeRange(size);
        var addresses = Enumerable.Range(0, size).Select(r => new PeerAddress("127.0.0.1", start + r)).ToArray();
        return OnThreads(size, r => (IPeerTransport)TcpTransport.Connect(r, addresses, TimeSpan.FromSeconds(20)));
    }

    /// <summary>Runs one body per rank on its own thread (not the thread pool, which other tests may keep busy) and returns the results in rank order.</summary>
    private static T[] OnThreads<T>(int ranks, Func<int, T> body)
    {
        var results = new T[ranks];
        var errors = new Exception?[ranks];
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            try { results[r] = body(r); }
            catch (Exception e) { errors[r] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (errors.FirstOrDefault(e => e is not null) is { } error) throw new InvalidOperationException($"rank {Array.IndexOf(errors, error)}: {error.Message}", error);
        return results;
    }

    private static CpuBuffer Buffer(params float[] values)
    {
        var buffer = new CpuBuffer(DType.F32, values.Length);
        values.CopyTo(buffer.AsFloats());
        return buffer;
    }

    /// <summary>The host collectives themselves, or staged through a backend's copies as GPU ranks sharing a device use them.</summary>
    private static ICommunicator Communicator(IPeerTransport transport, int[] members, bool staged)
    {
        var peers = new PeerCommunicator(transport, members, TimeSpan.FromSeconds(20));
        return staged ? new HostStagedCommunicator(new CpuBackend(new CpuBackendOptions { Threads = 1 }), peers) : peers;
    }

    [Theory]
    [InlineData("inproc", 3, false)]
    [InlineData("tcp", 3, false)]
    [InlineData("tcp", 4, false)]
    [InlineData("inproc", 3, true)]
    public void AllReduceAllGatherBroadcastAndSendReceive(string kind, int size, bool staged)
    {
        var transports = Transports(kind, size);
        try
        {
            var results = OnThreads(size, rank =>
            {
                using var world = Communicator(transports[rank], Enumerable.Range(0, size).ToArray(), staged);
                // 7 elements do not split evenly into chunks: the ring must handle short and empty chunks.
                using var sum = Buffer(Enumerable.Range(0, 7).Select(i => (float)(rank * 10 + i)).ToArray());
                world.AllReduceSum(sum, 7);
                using var mine = Buffer(rank, rank + 0.5f);
                using var all = new CpuBuffer(DType.F32, 2 * size);
                world.AllGather(mine, all, 2);
                using var broadcast = Buffer(rank == 1 ? [42, 43] : [0, 0]);
                world.Broadcast(broadcast, 2, root: 1);
                // A subgroup (ranks 0 and the last) sums only its members.
                float sub = float.NaN;
                if (rank == 0 || rank == size - 1)
                {
                    using var pair = Communicator(transports[rank], [0, size - 1], staged);
                    using var x = Buffer(rank + 1);
                    pair.AllReduceSum(x, 1);
                    sub = x.AsFloats()[0];
                    using var message = Buffer(rank == 0 ? 7 : 0);
                    if (rank == 0) pair.Send(message, 1, 1);
                    else { pair.Receive(message, 1, 0); sub += message.AsFloats()[0] * 100; }
                }
                return (Sum: sum.AsFloats().ToArray(), All: all.AsFloats().ToArray(), Broadcast: broadcast.AsFloats().ToArray(), Sub: sub);
            });

            float tens = Enumerable.Range(0, size).Sum(r => r * 10f);
            for (int rank = 0; rank < size; rank++)
            {
                Assert.Equal(Enumerable.Range(0, 7).Select(i => tens + size * i).ToArray(), results[rank].Sum);
                Assert.Equal(Enumerable.Range(0, size).SelectMany(r => new[] { (float)r, r + 0.5f }).ToArray(), results[rank].All);
                Assert.Equal([42f, 43f], results[rank].Broadcast);
            }
            Assert.Equal(1f + size, results[0].Sub);
            Assert.Equal(1f + size + 700, results[size - 1].Sub);
        }
        finally
        {
            foreach (var t in transports) t.Dispose();
        }
    }

    [Fact]
    public void ALostTcpPeerFailsEveryOtherRankNamingIt()
    {
        var transports = Transports("tcp", 3);
        try
        {
            var clock = Stopwatch.StartNew();
            var lost = OnThreads(3, rank =>
            {
                if (rank == 2)
                {
                    Thread.Sleep(200);
                    transports[2].Dispose(); // rank 2 goes away in the middle of the all-reduce
                    return null;
                }
                using var world = new PeerCommunicator(transports[rank], [0, 1, 2], TimeSpan.FromSeconds(60));
                using var buffer = Buffer(1, 2, 3);
                return Assert.Throws<CommunicatorException>(() => world.AllReduceSum(buffer, 3));
            });
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the others failed only after {clock.Elapsed.TotalSeconds:F1} s");
            Assert.Contains("lost rank 2", lost[0]!.Message);
            Assert.Contains("lost rank 2", lost[1]!.Message);
            // What waits outside the transport (NCCL on a GPU) learns of it through the token, with the reason.
            for (int rank = 0; rank < 2; rank++)
            {
                Assert.True(transports[rank].Aborted.IsCancellationRequested, $"rank {rank}'s token");
                Assert.Contains("lost rank 2", transports[rank].AbortReason);
            }
        }
        finally
        {
            foreach (var t in transports) t.Dispose();
        }
    }

    [Fact]
    public void ASilentPeerTimesOutNamingIt()
    {
        using var group = new InProcessGroup(2);
        using var rank0 = new PeerCommunicator(group.Transport(0), [0, 1], TimeSpan.FromMilliseconds(300));
        using var buffer = Buffer(1);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<CommunicatorException>(() => rank0.Receive(buffer, 1, 1));
        Assert.Contains("rank 1", e.Message);
        Assert.True(group.Transport(1).Aborted.IsCancellationRequested);
        Assert.Contains("rank 1", group.Transport(1).AbortReason);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3));
        // The group is aborted: the other rank fails at once too.
        using var rank1 = new PeerCommunicator(group.Transport(1), [0, 1]);
        Assert.Contains("rank 1", Assert.Throws<CommunicatorException>(() => rank1.Receive(buffer, 1, 0)).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ALinkNoOneReadsStillReportsTheLostPeer(bool abortsFirst)
    {
        // Ranks whose tensors move over NCCL read nothing from their links during a step: the watcher must notice.
        var transports = Transports("tcp", 3);
        try
        {
            var clock = Stopwatch.StartNew();
            if (abortsFirst) transports[2].Abort("rank 2 failed: out of memory");
            else transports[2].Dispose(); // as when the process is killed
            for (int rank = 0; rank < 2; rank++)
            {
                Assert.True(transports[rank].Aborted.WaitHandle.WaitOne(TimeSpan.FromSeconds(10)), $"rank {rank} never learned rank 2 was gone");
                Assert.Contains(abortsFirst ? "rank 2 failed: out of memory" : "lost rank 2", transports[rank].AbortReason);
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"noticed only after {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            foreach (var t in transports) t.Dispose();
        }
    }

    [Fact]
    public async Task StrangersOnARanksPortAreDroppedAndTheWorldStillForms()
    {
        int start = Ports.FreeRange(2);
        var addresses = new[] { new PeerAddress("127.0.0.1", start), new PeerAddress("127.0.0.1", start + 1) };
        var rank0 = Task.Factory.StartNew(() => TcpTransport.Connect(0, addresses, TimeSpan.FromSeconds(20)), TaskCreationOptions.LongRunning);
        // A client still retrying a process that used this port before: it speaks another protocol, or hangs up.
        Stranger(start, "*1\r\n$4\r\nPING\r\n"u8.ToArray());
        Stranger(start, []);
        using var rank1 = TcpTransport.Connect(1, addresses, TimeSpan.FromSeconds(20));
        using var world0 = await rank0;
        rank1.Send(0, [7, 8]);
        var received = new byte[2];
        world0.Receive(1, received, TimeSpan.FromSeconds(10));
        Assert.Equal([7, 8], received);
    }

    private static void Stranger(int port, byte[] says)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            try { socket.Connect("127.0.0.1", port); }
            catch (System.Net.Sockets.SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(10)) { Thread.Sleep(50); continue; }
            socket.Send(says);
            return;
        }
    }

    [Fact]
    public void AnUnreachableRankIsNamed()
    {
        int start = Ports.FreeRange(2);
        var addresses = new[] { new PeerAddress("127.0.0.1", start), new PeerAddress("127.0.0.1", start + 1) };
        var e = Assert.Throws<CommunicatorException>(() => TcpTransport.Connect(1, addresses, TimeSpan.FromSeconds(1)));
        Assert.Contains("rank 0", e.Message);
    }
}

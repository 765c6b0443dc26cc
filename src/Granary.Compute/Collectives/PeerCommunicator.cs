using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Granary.Compute.Cpu;

namespace Granary.Compute.Collectives;

/// <summary>
/// Collectives among a group of a world's ranks (all of them, or a tensor- or pipeline-parallel subgroup)
/// over an <see cref="IPeerTransport"/>: ring all-reduce (reduce-scatter then all-gather, so every rank
/// ends with the same bits), ring all-gather, broadcast from the root and point-to-point copies. The
/// same code serves in-process ranks and TCP ranks. Works on float32 host (CPU backend) buffers.
/// </summary>
public sealed unsafe class PeerCommunicator : ICommunicator
{
    private readonly IPeerTransport _transport;
    private readonly int[] _members;
    private float[] _scratch = [];
    private long _ticks;

    /// <param name="transport">This rank's transport; not owned.</param>
    /// <param name="members">World ranks of the group in group order; must include the transport's rank.</param>
    /// <param name="timeout">Longest wait for a peer inside one operation. Default 60 s.</param>
    public PeerCommunicator(IPeerTransport transport, IReadOnlyList<int> members, TimeSpan? timeout = null)
    {
        _transport = transport;
        _members = [.. members];
        Rank = Array.IndexOf(_members, transport.Rank);
        if (Rank < 0) throw new ArgumentException($"rank {transport.Rank} is not a member of the group [{string.Join(", ", members)}]", nameof(members));
        foreach (int m in _members)
            if ((uint)m >= (uint)transport.Size) throw new ArgumentException($"group member {m} is outside the world of {transport.Size} ranks", nameof(members));
        Timeout = timeout ?? TimeSpan.FromSeconds(60);
    }

    /// <summary>This rank's index in the group.</summary>
    public int Rank { get; }

    public int Size => _members.Length;

    public TimeSpan Timeout { get; }

    /// <summary>Time spent inside this communicator's operations (waiting for peers included).</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks));

    public void AllReduceSum(DeviceBuffer buffer, long length) => AllReduceSum(Floats(buffer, length));

    /// <summary>Sums <paramref name="data"/> across the group in place (host floats).</summary>
    public void AllReduceSum(Span<float> data)
    {
        if (Size == 1) return;
        long start = Stopwatch.GetTimestamp();
        int length = data.Length, n = Size, next = _members[(Rank + 1) % n], previous = _members[(Rank + n - 1) % n];
        EnsureScratch(Chunk(length, 0).Count);
        // Reduce-scatter: after n-1 steps this rank holds the full sum of chunk (Rank + 1) mod n.
        for (int step = 0; step < n - 1; step++)
        {
            var send = Chunk(length, Mod(Rank - step, n));
            var receive = Chunk(length, Mod(Rank - step - 1, n));
            _transport.Send(next, MemoryMarshal.AsBytes(data.Slice(send.Start, send.Count)));
            var incoming = _scratch.AsSpan(0, receive.Count);
            _transport.Receive(previous, MemoryMarshal.AsBytes(incoming), Timeout);
            var target = data.Slice(receive.Start, receive.Count);
            TensorPrimitives.Add(target, incoming, target);
        }
        // All-gather the reduced chunks around the ring.
        for (int step = 0; step < n - 1; step++)
        {
            var send = Chunk(length, Mod(Rank + 1 - step, n));
            var receive = Chunk(length, Mod(Rank - step, n));
            _transport.Send(next, MemoryMarshal.AsBytes(data.Slice(send.Start, send.Count)));
            _transport.Receive(previous, MemoryMarshal.AsBytes(data.Slice(receive.Start, receive.Count)), Timeout);
        }
        AddTime(start);
    }

    public void AllGather(DeviceBuffer send, DeviceBuffer receive, long lengthPerRank) => AllGather(Floats(send, lengthPerRank), Floats(receive, lengthPerRank * Size));

    /// <summary>Concatenates each rank's <paramref name="send"/> in rank order into <paramref name="receive"/> (Size times as long; host floats).</summary>
    public void AllGather(ReadOnlySpan<float> send, Span<float> receive)
    {
        int length = send.Length;
        if (receive.Length != length * Size) throw new ArgumentException($"all-gather of {length} floats a rank needs {length * Size} to receive into, got {receive.Length}", nameof(receive));
        long start = Stopwatch.GetTimestamp();
        int n = Size, next = _members[(Rank + 1) % n], previous = _members[(Rank + n - 1) % n];
        send.CopyTo(receive.Slice(Rank * length, length));
        for (int step = 0; step < n - 1; step++)
        {
            int outgoing = Mod(Rank - step, n), incoming = Mod(Rank - step - 1, n);
            _transport.Send(next, MemoryMarshal.AsBytes(receive.Slice(outgoing * length, length)));
            _transport.Receive(previous, MemoryMarshal.AsBytes(receive.Slice(incoming * length, length)), Timeout);
        }
        AddTime(start);
    }

    public void Broadcast(DeviceBuffer buffer, long length, int root) => BroadcastBytes(MemoryMarshal.AsBytes(Floats(buffer, length)), root);

    /// <summary>Sends <paramref name="data"/> from group rank <paramref name="root"/> to every other member (host bytes, e.g. a step plan).</summary>
    public void BroadcastBytes(Span<byte> data, int root)
    {
        if (Size == 1) return;
        long start = Stopwatch.GetTimestamp();
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"not a rank of a group of {Size}");
        if (Rank == root)
        {
            for (int r = 0; r < Size; r++)
                if (r != root) _transport.Send(_members[r], data);
        }
        else _transport.Receive(_members[root], data, Timeout);
        AddTime(start);
    }

    public void Send(DeviceBuffer buffer, long length, int peer) => SendBytes(MemoryMarshal.AsBytes(Floats(buffer, length)), peer);

    public void Receive(DeviceBuffer buffer, long length, int peer) => ReceiveBytes(MemoryMarshal.AsBytes(Floats(buffer, length)), peer);

    /// <summary>Queues host bytes for group rank <paramref name="peer"/>.</summary>
    public void SendBytes(ReadOnlySpan<byte> data, int peer)
    {
        long start = Stopwatch.GetTimestamp();
        CheckPeer(peer);
        _transport.Send(_members[peer], data);
        AddTime(start);
    }

    /// <summary>Receives host bytes from group rank <paramref name="peer"/>; <paramref name="timeout"/> overrides <see cref="Timeout"/>.</summary>
    public void ReceiveBytes(Span<byte> data, int peer, TimeSpan? timeout = null)
    {
        long start = Stopwatch.GetTimestamp();
        CheckPeer(peer);
        _transport.Receive(_members[peer], data, timeout ?? Timeout);
        AddTime(start);
    }

    /// <summary>The group does not own the transport; disposing it does nothing.</summary>
    public void Dispose() { }

    private void CheckPeer(int peer)
    {
        if ((uint)peer >= (uint)Size || peer == Rank) throw new ArgumentOutOfRangeException(nameof(peer), peer, $"not another rank of a group of {Size}");
    }

    private void AddTime(long start) => Interlocked.Add(ref _ticks, Stopwatch.GetTimestamp() - start);

    private void EnsureScratch(int length)
    {
        if (_scratch.Length < length) _scratch = new float[length];
    }

    /// <summary>The [Start, Start + Count) elements of chunk <paramref name="index"/> of <paramref name="length"/> split Size ways.</summary>
    private (int Start, int Count) Chunk(int length, int index)
    {
        int size = (length + Size - 1) / Size;
        int start = Math.Min(length, index * size), end = Math.Min(length, start + size);
        return (start, end - start);
    }

    private static int Mod(int value, int n) => ((value % n) + n) % n;

    private static Span<float> Floats(DeviceBuffer buffer, long length)
    {
        if (buffer is not CpuBuffer cpu || cpu.DType != DType.F32)
            throw new ArgumentException($"these collectives work on float32 CPU buffers, not {buffer.DType} {buffer.GetType().Name}");
        if (length < 0 || length > cpu.Length) throw new ArgumentOutOfRangeException(nameof(length), length, $"the buffer holds {cpu.Length} elements");
        // A single host operation moves at most int.MaxValue bytes.
        return new Span<float>(cpu.Floats, checked((int)(length * sizeof(float))) / sizeof(float));
    }
}

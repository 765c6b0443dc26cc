using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Granary.Compute.Collectives;

/// <summary>
/// Collectives for ranks whose buffers the host collectives cannot read in place (GPU ranks that share a device,
/// or have no NCCL): each call copies the elements to host floats, runs the <see cref="PeerCommunicator"/>
/// operation on them and copies the result back. Correct on any backend and any element type, and slow: it
/// is the fallback, never the fast path.
/// </summary>
public sealed class HostStagedCommunicator : ICommunicator
{
    private readonly IBackend _backend;
    private readonly PeerCommunicator _peers;
    private float[] _send = [];
    private float[] _receive = [];
    private long _ticks;

    /// <param name="backend">This rank's backend (not owned).</param>
    /// <param name="peers">The group's host collectives (not owned).</param>
    public HostStagedCommunicator(IBackend backend, PeerCommunicator peers)
    {
        _backend = backend;
        _peers = peers;
    }

    public int Rank => _peers.Rank;
    public int Size => _peers.Size;

    /// <summary>Time in these operations, the copies to and from the device included.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks));

    public void AllReduceSum(DeviceBuffer buffer, long length)
    {
        long start = Stopwatch.GetTimestamp();
        var host = Stage(ref _send, length);
        _backend.CopyToHost(buffer, host);
        _peers.AllReduceSum(host);
        _backend.CopyFromHost(host, buffer);
        AddTime(start);
    }

    public void AllGather(DeviceBuffer send, DeviceBuffer receive, long lengthPerRank)
    {
        long start = Stopwatch.GetTimestamp();
        var mine = Stage(ref _send, lengthPerRank);
        var all = Stage(ref _receive, lengthPerRank * Size);
        _backend.CopyToHost(send, mine);
        _peers.AllGather(mine, all);
        _backend.CopyFromHost(all, receive);
        AddTime(start);
    }

    public void Broadcast(DeviceBuffer buffer, long length, int root)
    {
        long start = Stopwatch.GetTimestamp();
        var host = Stage(ref _send, length);
        if (Rank == root) _backend.CopyToHost(buffer, host);
        _peers.BroadcastBytes(MemoryMarshal.AsBytes(host), root);
        if (Rank != root) _backend.CopyFromHost(host, buffer);
        AddTime(start);
    }

    public void Send(DeviceBuffer buffer, long length, int peer)
    {
        long start = Stopwatch.GetTimestamp();
        var host = Stage(ref _send, length);
        _backend.CopyToHost(buffer, host);
        _peers.SendBytes(MemoryMarshal.AsBytes(host), peer);
        AddTime(start);
    }

    public void Receive(DeviceBuffer buffer, long length, int peer)
    {
        long start = Stopwatch.GetTimestamp();
        var host = Stage(ref _send, length);
        _peers.ReceiveBytes(MemoryMarshal.AsBytes(host), peer);
        _backend.CopyFromHost(host, buffer);
        AddTime(start);
    }

    /// <summary>Owns neither the backend nor the peers.</summary>
    public void Dispose() { }

    private static Span<float> Stage(ref float[] buffer, long length)
    {
        if (length < 0 || length > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(length), length, "a staged collective moves at most Array.MaxLength elements");
        if (buffer.Length < length) buffer = new float[length];
        return buffer.AsSpan(0, (int)length);
    }

    private void AddTime(long start) => Interlocked.Add(ref _ticks, Stopwatch.GetTimestamp() - start);
}

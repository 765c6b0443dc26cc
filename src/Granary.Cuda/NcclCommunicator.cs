using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>
/// Collectives among the GPUs of a group through NCCL, on the backend's compute stream in call order: they order
/// with the kernels around them without host waits, and a step graph captures them with the step. Rank 0 makes the
/// id (<see cref="CreateUniqueId"/>); whatever launched the ranks passes it to every other rank. With
/// <paramref name="timeOnDevice"/> each call is bracketed by a pair of CUDA events, so that <see cref="Elapsed"/>
/// gives the device time of the collectives (the host cannot see it: the calls return before the work runs).
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    private enum Call : ulong { AllReduce, AllGather, Broadcast, Send, Receive }

    private readonly CudaBackend _backend;
    private readonly bool _timed;
    // Timing: event pairs numbered within one sync point of the backend, so that a replayed step graph records the
    // same events again; a pair's time is added up when the next sync point numbers it afresh.
    private readonly List<(nint Start, nint End)> _events = [];
    private int _eventsUsed;
    private long _eventsSyncPoint = -1;
    private double _milliseconds;
    private nint _comm;
    private readonly CancellationTokenRegistration _watch;

    /// <summary>Joins the group (blocks until every rank has joined, the links are aborted, or the step timeout passes).</summary>
    /// <param name="timeOnDevice">Bracket each call with CUDA events (for <see cref="Elapsed"/>; adds two graph nodes a call).</param>
    /// <param name="links">
    /// Host links the ranks of the group also share: once they fail or are aborted (a rank failed or was lost), the
    /// backend's waits end with that reason (<see cref="CudaBackend.Interrupt"/>) instead of waiting for ever on a
    /// collective whose peer is gone.
    /// </param>
    /// <param name="stepTimeout">Longest the join, or a wait for the device, may last before the group counts as broken. Default 60 s.</param>
    public NcclCommunicator(CudaBackend backend, int rank, int size, NcclUniqueId id, bool timeOnDevice = false, IPeerTransport? links = null, TimeSpan? stepTimeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if ((uint)rank >= (uint)size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {size})");
        NativeLibraries.Require(CudaLibrary.Nccl);
        _backend = backend;
        _timed = timeOnDevice;
        Rank = rank;
        Size = size;
        backend.EndStep();
        var timeout = stepTimeout ?? TimeSpan.FromSeconds(60);
        _comm = Join(backend, rank, size, id, links, timeout);
        backend.WatchCollectives(timeout);
        if (links is not null) _watch = links.Aborted.Register(() => backend.Interrupt(links.AbortReason ?? "the parallel group was aborted"));
    }

    /// <summary>
    /// ncclCommInitRank blocks until every member has joined and takes no timeout, so it runs on a thread of its own:
    /// a member lost before it joined (the links abort) or a join that outlasts <paramref name="timeout"/> fails this
    /// rank instead of hanging it. A join that completes after this rank gave up is aborted at once.
    /// </summary>
    private static nint Join(CudaBackend backend, int rank, int size, NcclUniqueId id, IPeerTransport? links, TimeSpan timeout)
    {
        var joined = new TaskCompletionSource<nint>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                backend.Bind();
                Check(Nccl.ncclCommInitRank(out nint comm, size, id, rank), "ncclCommInitRank");
                if (!joined.TrySetResult(comm)) Nccl.ncclCommAbort(comm);
            }
            catch (Exception e)
            {
                joined.TrySetException(e);
            }
        }) { IsBackground = true, Name = $"granary nccl join {rank}/{size}" }.Start();
        try
        {
            joined.Task.Wait(timeout, links?.Aborted ?? CancellationToken.None);
        }
        catch (Exception e) when (e is AggregateException or OperationCanceledException) { }
        if (joined.TrySetCanceled())
            throw new CommunicatorException(links?.AbortReason is { } reason
                ? $"rank {rank} gave up joining its NCCL group of {size}: {reason}"
                : $"rank {rank}: its NCCL group of {size} did not form within {timeout.TotalSeconds:F0} s (a member was lost before it joined, or runs a different step)");
        return joined.Task.GetAwaiter().GetResult();
    }

    /// <summary>A fresh group id (on rank 0).</summary>
    public static NcclUniqueId CreateUniqueId()
    {
        NativeLibraries.Require(CudaLibrary.Nccl);
        var id = new NcclUniqueId();
        Check(Nccl.ncclGetUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    /// <summary>Whether libnccl.so.2 loads here.</summary>
    public static bool IsAvailable()
    {
        try
        {
            NativeLibraries.Require(CudaLibrary.Nccl);
            return true;
        }
        catch (CudaUnavailableException)
        {
            return false;
        }
    }

    public int Rank { get; }
    public int Size { get; }

    /// <summary>Device time of the collectives issued so far when timed (waits for the last ones); zero otherwise.</summary>
    public TimeSpan Elapsed
    {
        get
        {
            if (!_timed || _comm == 0) return TimeSpan.Zero;
            lock (_events)
            {
                _backend.EndStep();
                Harvest();
                return TimeSpan.FromMilliseconds(_milliseconds);
            }
        }
    }

    public void AllReduceSum(DeviceBuffer buffer, long length)
    {
        var b = Buffer(buffer, length);
        Issue(Call.AllReduce, b.Pointer, b.Pointer, length, b.DType, 0);
    }

    public void AllGather(DeviceBuffer send, DeviceBuffer receive, long lengthPerRank)
    {
        var s = Buffer(send, lengthPerRank);
        var r = Buffer(receive, lengthPerRank * Size);
        if (s.DType != r.DType) throw new ArgumentException($"all-gather from {s.DType} into {r.DType}");
        Issue(Call.AllGather, s.Pointer, r.Pointer, lengthPerRank, s.DType, 0);
    }

    public void Broadcast(DeviceBuffer buffer, long length, int root)
    {
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"not a rank of a group of {Size}");
        var b = Buffer(buffer, length);
        Issue(Call.Broadcast, b.Pointer, b.Pointer, length, b.DType, root);
    }

    public void Send(DeviceBuffer buffer, long length, int peer)
    {
        CheckPeer(peer);
        var b = Buffer(buffer, length);
        Issue(Call.Send, b.Pointer, 0, length, b.DType, peer);
    }

    public void Receive(DeviceBuffer buffer, long length, int peer)
    {
        CheckPeer(peer);
        var b = Buffer(buffer, length);
        Issue(Call.Receive, 0, b.Pointer, length, b.DType, peer);
    }

    /// <summary>Runs a recorded collective on <paramref name="stream"/> (the backend calls this when the op executes or is captured).</summary>
    internal static void Execute(in StreamOp op, nint stream)
    {
        ulong send = op.Args[1], receive = op.Args[2];
        var count = (nuint)op.Args[3];
        int type = (int)op.Args[4], peer = (int)op.Args[5];
        var comm = (nint)op.Args[6];
        var call = (Call)op.Args[0];
        int status = call switch
        {
            Call.AllReduce => Nccl.ncclAllReduce(send, receive, count, type, Nccl.Sum, comm, stream),
            Call.AllGather => Nccl.ncclAllGather(send, receive, count, type, comm, stream),
            Call.Broadcast => Nccl.ncclBroadcast(send, receive, count, type, peer, comm, stream),
            Call.Send => Nccl.ncclSend(send, count, type, peer, comm, stream),
            _ => Nccl.ncclRecv(receive, count, type, peer, comm, stream),
        };
        Check(status, call switch
        {
            Call.AllReduce => "ncclAllReduce",
            Call.AllGather => "ncclAllGather",
            Call.Broadcast => "ncclBroadcast",
            Call.Send => "ncclSend",
            _ => "ncclRecv",
        });
    }

    /// <summary>
    /// Leaves the group: after its work is done, or, when the group is broken (the backend was interrupted, or its work
    /// does not finish), by aborting the communicator, which also ends its kernels that still wait for a peer.
    /// </summary>
    public void Dispose()
    {
        if (_comm == 0) return;
        _watch.Dispose();
        bool finished = _backend.InterruptReason is null;
        if (finished)
        {
            try
            {
                _backend.Synchronize();
            }
            catch (CommunicatorException)
            {
                finished = false;
            }
        }
        if (finished) Nccl.ncclCommDestroy(_comm);
        else Nccl.ncclCommAbort(_comm);
        _comm = 0;
        foreach (var (start, end) in _events)
        {
            Driver.cuEventDestroy(start);
            Driver.cuEventDestroy(end);
        }
        _events.Clear();
    }

    private void Issue(Call call, ulong send, ulong receive, long count, DType dtype, int peer)
    {
        var op = new StreamOp { Kind = StreamOpKind.Nccl, ArgCount = 7 };
        op.Args[0] = (ulong)call; op.Args[1] = send; op.Args[2] = receive; op.Args[3] = (ulong)count;
        op.Args[4] = (ulong)Type(dtype); op.Args[5] = (ulong)peer; op.Args[6] = (ulong)_comm;
        if (!_timed)
        {
            _backend.IssueOp(op);
            return;
        }
        lock (_events)
        {
            var (start, end) = NextEvents();
            _backend.IssueOp(EventRecord(start));
            _backend.IssueOp(op);
            _backend.IssueOp(EventRecord(end));
        }
    }

    /// <summary>The event pair of this call within the backend's current sync point (a new sync point first adds up the last one's).</summary>
    private (nint Start, nint End) NextEvents()
    {
        if (_eventsSyncPoint != _backend.SyncPoints)
        {
            Harvest();
            _eventsSyncPoint = _backend.SyncPoints;
        }
        if (_eventsUsed == _events.Count)
        {
            Driver.Check(Driver.cuEventCreate(out nint start, 0), "cuEventCreate");
            Driver.Check(Driver.cuEventCreate(out nint end, 0), "cuEventCreate");
            _events.Add((start, end));
        }
        return _events[_eventsUsed++];
    }

    /// <summary>Adds up the time of the event pairs recorded since the last harvest (waiting for them) and frees them for reuse.</summary>
    private void Harvest()
    {
        for (int i = 0; i < _eventsUsed; i++)
        {
            var (start, end) = _events[i];
            Driver.Check(Driver.cuEventSynchronize(end), "cuEventSynchronize");
            Driver.Check(Driver.cuEventElapsedTime(out float ms, start, end), "cuEventElapsedTime");
            _milliseconds += ms;
        }
        _eventsUsed = 0;
    }

    private static StreamOp EventRecord(nint evt)
    {
        var op = new StreamOp { Kind = StreamOpKind.EventRecord, ArgCount = 1 };
        op.Args[0] = (ulong)evt;
        return op;
    }

    private CudaBuffer Buffer(DeviceBuffer buffer, long length)
    {
        if (_comm == 0) throw new ObjectDisposedException(nameof(NcclCommunicator));
        var b = _backend.Dev(buffer);
        if (length < 0 || length > b.Length) throw new ArgumentOutOfRangeException(nameof(length), $"{length} elements in a buffer of {b.Length}");
        return b;
    }

    private void CheckPeer(int peer)
    {
        if ((uint)peer >= (uint)Size || peer == Rank) throw new ArgumentOutOfRangeException(nameof(peer), peer, $"not another rank of a group of {Size}");
    }

    private static int Type(DType dtype) => dtype switch
    {
        DType.F32 => Nccl.Float32,
        DType.BF16 => Nccl.Bfloat16,
        DType.F16 => Nccl.Float16,
        DType.I32 => Nccl.Int32,
        _ => throw new ArgumentException($"NCCL cannot carry {dtype}"),
    };

    private static void Check(int status, string call)
    {
        if (status == 0) return;
        throw new CommunicatorException($"{call} failed: NCCL error {status} {Marshal.PtrToStringUTF8(Nccl.ncclGetErrorString(status))}");
    }
}

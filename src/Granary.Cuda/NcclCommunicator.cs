using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>
/// Collectives among the GPUs of a group through NCCL, issued on the backend's compute stream so they
/// order with the kernels around them without host waits. Rank 0 makes the id
/// (<see cref="CreateUniqueId"/>); whatever launched the ranks passes it to every other rank.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    private readonly CudaBackend _backend;
    private nint _comm;

    /// <summary>Joins the group (blocks until every rank has joined).</summary>
    public NcclCommunicator(CudaBackend backend, int rank, int size, NcclUniqueId id)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if ((uint)rank >= (uint)size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {size})");
        NativeLibraries.Require(CudaLibrary.Nccl);
        _backend = backend;
        Rank = rank;
        Size = size;
        backend.Bind();
        Check(Nccl.ncclCommInitRank(out _comm, size, id, rank), "ncclCommInitRank");
    }

    /// <summary>A fresh group id (on rank 0).</summary>
    public static NcclUniqueId CreateUniqueId()
    {
        NativeLibraries.Require(CudaLibrary.Nccl);
        var id = new NcclUniqueId();
        Check(Nccl.ncclGetUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    public int Rank { get; }
    public int Size { get; }

    public void AllReduceSum(DeviceBuffer buffer, long length)
    {
        var b = Buffer(buffer, length);
        Check(Nccl.ncclAllReduce(b.Pointer, b.Pointer, (nuint)length, Type(b), Nccl.Sum, _comm, _backend.Stream), "ncclAllReduce");
    }

    public void AllGather(DeviceBuffer send, DeviceBuffer receive, long lengthPerRank)
    {
        var s = Buffer(send, lengthPerRank);
        var r = Buffer(receive, lengthPerRank * Size);
        if (s.DType != r.DType) throw new ArgumentException($"all-gather from {s.DType} into {r.DType}");
        Check(Nccl.ncclAllGather(s.Pointer, r.Pointer, (nuint)lengthPerRank, Type(s), _comm, _backend.Stream), "ncclAllGather");
    }

    public void Broadcast(DeviceBuffer buffer, long length, int root)
    {
        var b = Buffer(buffer, length);
        Check(Nccl.ncclBroadcast(b.Pointer, b.Pointer, (nuint)length, Type(b), root, _comm, _backend.Stream), "ncclBroadcast");
    }

    public void Send(DeviceBuffer buffer, long length, int peer)
    {
        var b = Buffer(buffer, length);
        Check(Nccl.ncclSend(b.Pointer, (nuint)length, Type(b), peer, _comm, _backend.Stream), "ncclSend");
    }

    public void Receive(DeviceBuffer buffer, long length, int peer)
    {
        var b = Buffer(buffer, length);
        Check(Nccl.ncclRecv(b.Pointer, (nuint)length, Type(b), peer, _comm, _backend.Stream), "ncclRecv");
    }

    public void Dispose()
    {
        if (_comm == 0) return;
        _backend.Synchronize();
        Nccl.ncclCommDestroy(_comm);
        _comm = 0;
    }

    private CudaBuffer Buffer(DeviceBuffer buffer, long length)
    {
        if (_comm == 0) throw new ObjectDisposedException(nameof(NcclCommunicator));
        _backend.Bind();
        _backend.Barrier();
        var b = _backend.Dev(buffer);
        if (length < 0 || length > b.Length) throw new ArgumentOutOfRangeException(nameof(length), $"{length} elements in a buffer of {b.Length}");
        return b;
    }

    private static int Type(CudaBuffer buffer) => buffer.DType switch
    {
        DType.F32 => Nccl.Float32,
        DType.BF16 => Nccl.Bfloat16,
        DType.F16 => Nccl.Float16,
        DType.I32 => Nccl.Int32,
        _ => throw new ArgumentException($"NCCL cannot carry {buffer.DType}"),
    };

    private static void Check(int status, string call)
    {
        if (status == 0) return;
        throw new CommunicatorException($"{call} failed: NCCL error {status} {Marshal.PtrToStringUTF8(Nccl.ncclGetErrorString(status))}");
    }
}

using System.Runtime.InteropServices;

namespace Granary.Cuda.Native;

/// <summary>NCCL (libnccl.so.2): collectives between the GPUs of a tensor-parallel group.</summary>
internal static unsafe class Nccl
{
    private const string L = NativeLibraries.Nccl;

    public const int Int32 = 2;
    public const int Float16 = 6;
    public const int Float32 = 7;
    public const int Bfloat16 = 9;
    public const int Sum = 0;

    [DllImport(L)] public static extern int ncclGetUniqueId(NcclUniqueId* id);
    [DllImport(L)] public static extern int ncclCommInitRank(out nint comm, int ranks, NcclUniqueId id, int rank);
    [DllImport(L)] public static extern int ncclCommDestroy(nint comm);
    [DllImport(L)] public static extern int ncclCommAbort(nint comm);
    [DllImport(L)] public static extern int ncclAllReduce(ulong send, ulong receive, nuint count, int dataType, int op, nint comm, nint stream);
    [DllImport(L)] public static extern int ncclAllGather(ulong send, ulong receive, nuint countPerRank, int dataType, nint comm, nint stream);
    [DllImport(L)] public static extern int ncclBroadcast(ulong send, ulong receive, nuint count, int dataType, int root, nint comm, nint stream);
    [DllImport(L)] public static extern int ncclSend(ulong send, nuint count, int dataType, int peer, nint comm, nint stream);
    [DllImport(L)] public static extern int ncclRecv(ulong receive, nuint count, int dataType, int peer, nint comm, nint stream);
    [DllImport(L)] public static extern nint ncclGetErrorString(int result);
}

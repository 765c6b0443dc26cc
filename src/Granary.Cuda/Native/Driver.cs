using System.Runtime.InteropServices;

namespace Granary.Cuda.Native;

/// <summary>The CUDA driver API (libcuda): devices, contexts, memory, streams, events, modules, launches, graphs.</summary>
internal static unsafe class Driver
{
    private const string L = NativeLibraries.Driver;

    public const int AttrMultiprocessorCount = 16;
    public const int AttrComputeCapabilityMajor = 75;
    public const int AttrComputeCapabilityMinor = 76;
    public const int FuncAttrMaxDynamicSharedSize = 8;
    public const int FuncAttrNumRegs = 4;
    public const int LaunchAttrProgrammaticStreamSerialization = 6;
    public const uint StreamNonBlocking = 1;
    public const int CaptureModeThreadLocal = 1;
    public const uint EventRecordExternal = 1;
    public const uint EventDisableTiming = 2;
    public const int ErrorNotReady = 600;

    [DllImport(L)] public static extern int cuInit(uint flags);
    [DllImport(L)] public static extern int cuDriverGetVersion(out int version);
    [DllImport(L)] public static extern int cuDeviceGetCount(out int count);
    [DllImport(L, EntryPoint = "cuDeviceGetUuid_v2")] public static extern int cuDeviceGetUuid(byte* uuid, int device);
    [DllImport(L)] public static extern int cuDeviceGet(out int device, int ordinal);
    [DllImport(L)] public static extern int cuDeviceGetName(byte* name, int length, int device);
    [DllImport(L)] public static extern int cuDeviceGetAttribute(out int value, int attribute, int device);
    [DllImport(L, EntryPoint = "cuDeviceTotalMem_v2")] public static extern int cuDeviceTotalMem(out nuint bytes, int device);
    [DllImport(L)] public static extern int cuDevicePrimaryCtxRetain(out nint context, int device);
    [DllImport(L, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] public static extern int cuDevicePrimaryCtxRelease(int device);
    [DllImport(L)] public static extern int cuCtxSetCurrent(nint context);
    [DllImport(L)] public static extern int cuCtxGetCurrent(out nint context);
    [DllImport(L)] public static extern int cuCtxSynchronize();
    [DllImport(L, EntryPoint = "cuMemGetInfo_v2")] public static extern int cuMemGetInfo(out nuint free, out nuint total);

    [DllImport(L, EntryPoint = "cuMemAlloc_v2")] public static extern int cuMemAlloc(out ulong pointer, nuint bytes);
    [DllImport(L, EntryPoint = "cuMemFree_v2")] public static extern int cuMemFree(ulong pointer);
    [DllImport(L)] public static extern int cuMemHostAlloc(out nint pointer, nuint bytes, uint flags);
    [DllImport(L)] public static extern int cuMemFreeHost(nint pointer);
    [DllImport(L, EntryPoint = "cuMemcpyHtoDAsync_v2")] public static extern int cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);
    [DllImport(L, EntryPoint = "cuMemcpyDtoHAsync_v2")] public static extern int cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);
    [DllImport(L, EntryPoint = "cuMemcpyDtoDAsync_v2")] public static extern int cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);
    [DllImport(L)] public static extern int cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);

    [DllImport(L)] public static extern int cuStreamCreate(out nint stream, uint flags);
    [DllImport(L, EntryPoint = "cuStreamDestroy_v2")] public static extern int cuStreamDestroy(nint stream);
    [DllImport(L)] public static extern int cuStreamSynchronize(nint stream);
    [DllImport(L)] public static extern int cuStreamQuery(nint stream);
    [DllImport(L)] public static extern int cuEventCreate(out nint evt, uint flags);
    [DllImport(L, EntryPoint = "cuEventDestroy_v2")] public static extern int cuEventDestroy(nint evt);
    [DllImport(L)] public static extern int cuEventRecord(nint evt, nint stream);
    [DllImport(L)] public static extern int cuEventRecordWithFlags(nint evt, nint stream, uint flags);
    [DllImport(L)] public static extern int cuEventQuery(nint evt);
    [DllImport(L)] public static extern int cuEventSynchronize(nint evt);
    [DllImport(L)] public static extern int cuEventElapsedTime(out float milliseconds, nint start, nint end);

    [DllImport(L)] public static extern int cuModuleLoadData(out nint module, void* image);
    [DllImport(L)] public static extern int cuModuleUnload(nint module);
    [DllImport(L)] public static extern int cuModuleGetFunction(out nint function, nint module, [MarshalAs(UnmanagedType.LPUTF8Str)] string name);
    [DllImport(L)] public static extern int cuFuncSetAttribute(nint function, int attribute, int value);
    [DllImport(L)] public static extern int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, void** parameters, void** extra);

    [DllImport(L)] public static extern int cuLaunchKernelEx(LaunchConfig* config, nint function, void** parameters, void** extra);
    [DllImport(L)] public static extern int cuFuncGetAttribute(out int value, int attribute, nint function);
    [DllImport(L)] public static extern int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, nint function, int blockSize, nuint dynamicSharedBytes);

    [DllImport(L, EntryPoint = "cuStreamBeginCapture_v2")] public static extern int cuStreamBeginCapture(nint stream, int mode);
    [DllImport(L)] public static extern int cuStreamEndCapture(nint stream, out nint graph);
    [DllImport(L)] public static extern int cuGraphInstantiateWithFlags(out nint graphExec, nint graph, ulong flags);
    [DllImport(L)] public static extern int cuGraphLaunch(nint graphExec, nint stream);
    [DllImport(L)] public static extern int cuGraphExecDestroy(nint graphExec);
    [DllImport(L)] public static extern int cuGraphDestroy(nint graph);

    [DllImport(L)] public static extern int cuGetErrorString(int error, out nint text);

    /// <summary>Throws <see cref="CudaException"/> naming the call when <paramref name="status"/> is not CUDA_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status == 0) return;
        string text = cuGetErrorString(status, out nint p) == 0 && p != 0 ? Marshal.PtrToStringUTF8(p) ?? "" : "";
        throw new CudaException($"{call} failed: CUDA error {status} {text}");
    }

    /// <summary>CUlaunchConfig.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LaunchConfig
    {
        public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedBytes;
        public nint Stream;
        public LaunchAttribute* Attributes;
        public uint AttributeCount;
    }

    /// <summary>CUlaunchAttribute: the id, padding to 8 bytes, then a 64-byte value union (here its first int).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    public struct LaunchAttribute
    {
        [FieldOffset(0)] public int Id;
        [FieldOffset(8)] public int Value;
    }
}

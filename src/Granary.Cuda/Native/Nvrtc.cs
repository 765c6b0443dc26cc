using System.Runtime.InteropServices;

namespace Granary.Cuda.Native;

/// <summary>NVRTC (libnvrtc): compiles the kernels' CUDA C to CUBIN for the device at run time.</summary>
internal static unsafe class Nvrtc
{
    private const string L = NativeLibraries.Nvrtc;

    [DllImport(L)] public static extern int nvrtcVersion(out int major, out int minor);
    [DllImport(L)] public static extern int nvrtcCreateProgram(out nint program, byte* source, byte* name, int headers, byte** headerSources, byte** headerNames);
    [DllImport(L)] public static extern int nvrtcDestroyProgram(ref nint program);
    [DllImport(L)] public static extern int nvrtcCompileProgram(nint program, int optionCount, byte** options);
    [DllImport(L)] public static extern int nvrtcGetProgramLogSize(nint program, out nuint size);
    [DllImport(L)] public static extern int nvrtcGetProgramLog(nint program, byte* log);
    [DllImport(L)] public static extern int nvrtcGetCUBINSize(nint program, out nuint size);
    [DllImport(L)] public static extern int nvrtcGetCUBIN(nint program, byte* cubin);
    [DllImport(L)] public static extern nint nvrtcGetErrorString(int result);

    public static void Check(int status, string call)
    {
        if (status == 0) return;
        throw new CudaException($"{call} failed: NVRTC error {status} {Marshal.PtrToStringUTF8(nvrtcGetErrorString(status))}");
    }
}

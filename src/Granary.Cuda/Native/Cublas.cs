using System.Runtime.InteropServices;

namespace Granary.Cuda.Native;

/// <summary>cuBLAS (libcublas): the GEMMs of the linear layers.</summary>
internal static unsafe class Cublas
{
    private const string L = NativeLibraries.Cublas;

    public const int OpN = 0;
    public const int OpT = 1;
    public const int R32F = 0;
    public const int R16F = 2;
    public const int R16BF = 14;
    public const int Compute32F = 68;
    public const int GemmDefault = -1;

    [DllImport(L, EntryPoint = "cublasCreate_v2")] public static extern int cublasCreate(out nint handle);
    [DllImport(L, EntryPoint = "cublasDestroy_v2")] public static extern int cublasDestroy(nint handle);
    [DllImport(L, EntryPoint = "cublasSetStream_v2")] public static extern int cublasSetStream(nint handle, nint stream);
    [DllImport(L)] public static extern int cublasSetWorkspace_v2(nint handle, ulong workspace, nuint bytes);
    [DllImport(L)] public static extern int cublasGemmEx(nint handle, int transa, int transb, int m, int n, int k, float* alpha,
        ulong a, int aType, int lda, ulong b, int bType, int ldb, float* beta, ulong c, int cType, int ldc, int computeType, int algo);
    [DllImport(L)] public static extern nint cublasGetStatusString(int status);

    public static void Check(int status, string call)
    {
        if (status == 0) return;
        string text = "";
        try { text = Marshal.PtrToStringUTF8(cublasGetStatusString(status)) ?? ""; } catch (EntryPointNotFoundException) { }
        throw new CudaException($"{call} failed: cuBLAS status {status} {text}");
    }
}

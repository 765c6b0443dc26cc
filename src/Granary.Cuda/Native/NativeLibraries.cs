using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Granary.Cuda.Native;

/// <summary>
/// Resolves the P/Invoke library names of this assembly to the sonames installed on the machine (newest
/// CUDA major first), so one build runs against CUDA 13 or 12 and a missing library fails with one message
/// naming every file that was tried.
/// </summary>
public static class NativeLibraries
{
    internal const string Driver = "granary-cuda";
    internal const string Runtime = "granary-cudart";
    internal const string Cublas = "granary-cublas";
    internal const string CublasLt = "granary-cublaslt";
    internal const string Nvrtc = "granary-nvrtc";
    internal const string Nccl = "granary-nccl";

    private static readonly Dictionary<CudaLibrary, nint> s_loaded = [];
    private static readonly Lock s_lock = new();

#pragma warning disable CA2255 // the resolver must be in place before any P/Invoke of this library runs
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);

    /// <summary>The sonames tried for a library, in order.</summary>
    public static IReadOnlyList<string> Candidates(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => ["libcuda.so.1", "libcuda.so"],
        CudaLibrary.Runtime => ["libcudart.so.13", "libcudart.so.12"],
        CudaLibrary.Cublas => ["libcublas.so.13", "libcublas.so.12"],
        CudaLibrary.CublasLt => ["libcublasLt.so.13", "libcublasLt.so.12"],
        CudaLibrary.Nvrtc => ["libnvrtc.so.13", "libnvrtc.so.12"],
        CudaLibrary.Nccl => ["libnccl.so.2"],
        _ => throw new ArgumentOutOfRangeException(nameof(library)),
    };

    /// <summary>Loads a library (once) or throws <see cref="CudaUnavailableException"/> naming the files tried.</summary>
    public static nint Require(CudaLibrary library)
    {
        lock (s_lock)
        {
            if (s_loaded.TryGetValue(library, out nint handle)) return handle;
            handle = Load(library, Candidates(library));
            s_loaded[library] = handle;
            return handle;
        }
    }

    /// <summary>The first of <paramref name="candidates"/> that loads, or a clear error.</summary>
    internal static nint Load(CudaLibrary library, IReadOnlyList<string> candidates)
    {
        foreach (string name in candidates)
        {
            if (NativeLibrary.TryLoad(name, out nint handle)) return handle;
        }
        string hint = library switch
        {
            CudaLibrary.Driver => "the NVIDIA driver is not installed or not visible (no GPU on this machine?)",
            CudaLibrary.Nccl => "install NCCL 2 (pip nvidia-nccl-cu13 or the libnccl2 package) and put its folder on LD_LIBRARY_PATH",
            _ => "install the CUDA 13 or 12 runtime libraries (pip nvidia-*-cu13 or the CUDA toolkit) and put their folder on LD_LIBRARY_PATH",
        };
        throw new CudaUnavailableException($"CUDA library {library} not found: tried {string.Join(", ", candidates)}; {hint}");
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        CudaLibrary? library = name switch
        {
            Driver => CudaLibrary.Driver,
            Runtime => CudaLibrary.Runtime,
            Cublas => CudaLibrary.Cublas,
            CublasLt => CudaLibrary.CublasLt,
            Nvrtc => CudaLibrary.Nvrtc,
            Nccl => CudaLibrary.Nccl,
            _ => null,
        };
        return library is { } l ? Require(l) : 0;
    }
}

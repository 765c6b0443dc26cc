namespace Granary.Cuda.Tests;

/// <summary>Whether this machine has the NVIDIA driver library (CI has none).</summary>
internal static class GpuPresence
{
    public static bool Available { get; } = System.Runtime.InteropServices.NativeLibrary.TryLoad("libcuda.so.1", out _);
}

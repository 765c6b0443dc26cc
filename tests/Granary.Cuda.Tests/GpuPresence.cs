namespace Granary.Cuda.Tests;

/// <summary>Whether this machine has the NVIDIA driver library (CI has none).</summary>
internal static class GpuPresence
{
    public static bool Available { get; } = System.Runtime.InteropServices.NativeLibrary.TryLoad("libcuda.so.1", out _);

    /// <summary>Reports the calling test as skipped, not passed, on a machine without a GPU.</summary>
    public static void Require() => Assert.SkipUnless(Available, "no GPU here (libcuda.so.1 does not load)");
}

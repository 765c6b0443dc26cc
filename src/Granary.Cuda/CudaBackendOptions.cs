using Granary.Cuda.Kernels;

namespace Granary.Cuda;

/// <summary>Settings of the CUDA backend.</summary>
public sealed class CudaBackendOptions
{
    /// <summary>Device ordinal. Default 0.</summary>
    public int Device { get; set; }

    /// <summary>Activations and KV cache in float32 instead of bf16 (for checks against the CPU backend). Default false.</summary>
    public bool Float32Activations { get; set; }

    /// <summary>Use the warp-per-output GEMV kernel for steps of at most <see cref="SkinnyGemvMaxRows"/> rows (else cuBLAS). Default true.</summary>
    public bool SkinnyGemv { get; set; } = true;

    /// <summary>
    /// Most rows a step may have for the GEMV kernel (at most 8); cuBLAS takes larger steps. Measured on an H200 at the
    /// 1B shapes (BENCHMARKS.md): the kernel saves 1.5% of a 1-row step and loses from 2 rows on. Default 1, or the
    /// environment variable GRANARY_CUDA_SKINNY_ROWS.
    /// </summary>
    public int SkinnyGemvMaxRows { get; set; } = int.TryParse(Environment.GetEnvironmentVariable("GRANARY_CUDA_SKINNY_ROWS"), out int rows) && rows >= 0 ? rows : 1;

    /// <summary>
    /// Replay a step whose ops repeat the previous step's exactly (decode at a steady batch) as one CUDA
    /// graph instead of launching each kernel. Default: on, unless the environment variable
    /// GRANARY_CUDA_GRAPHS is 0.
    /// </summary>
    public bool Graphs { get; set; } = Environment.GetEnvironmentVariable("GRANARY_CUDA_GRAPHS") != "0";

    /// <summary>Where compiled kernels are kept; null means <see cref="KernelCache.Default"/>.</summary>
    public string? KernelCacheDirectory { get; set; }

    /// <summary>
    /// Parses a device name: "cuda" (device 0) or "cuda:N"; null when the name is not a CUDA device.
    /// Throws <see cref="ArgumentException"/> for a malformed ordinal.
    /// </summary>
    public static CudaBackendOptions? Parse(string device)
    {
        if (device == "cuda") return new CudaBackendOptions();
        if (!device.StartsWith("cuda:", StringComparison.Ordinal)) return null;
        string ordinal = device["cuda:".Length..];
        if (!int.TryParse(ordinal, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n))
            throw new ArgumentException($"device '{device}': expected cuda:N with N a device number");
        return new CudaBackendOptions { Device = n };
    }
}

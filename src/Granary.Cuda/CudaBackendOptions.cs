using Granary.Compute;
using Granary.Cuda.Kernels;

namespace Granary.Cuda;

/// <summary>Settings of the CUDA backend.</summary>
public sealed class CudaBackendOptions
{
    /// <summary>Device ordinal. Default 0.</summary>
    public int Device { get; set; }

    /// <summary>Activations and KV cache in float32 instead of bf16 (for checks against the CPU backend). Default false.</summary>
    public bool Float32Activations { get; set; }

    /// <summary>
    /// Steps of one row (batch-1 decode) take the GEMV kernel instead of cuBLAS, with the norm before a projection
    /// and the residual add after it done inside the kernel. Measured on an H200 at the 1B shapes (BENCHMARKS.md):
    /// it reads the weights near the copy bandwidth; its 8-row form lost to cuBLAS from 2 rows on. Default true.
    /// </summary>
    public bool SkinnyGemv { get; set; } = true;

    /// <summary>
    /// Capture a step whose ops repeat the previous step's exactly (decode at a steady batch) as a CUDA graph, and
    /// replay it for every later step with the same ops instead of launching each kernel; up to 16 such graphs
    /// (one per batch size a server meets) are kept. Default: on, unless the environment variable
    /// GRANARY_CUDA_GRAPHS is 0.
    /// </summary>
    public bool Graphs { get; set; } = Environment.GetEnvironmentVariable("GRANARY_CUDA_GRAPHS") != "0";

    /// <summary>
    /// Let each kernel start while the previous one finishes (programmatic dependent launch, sm_90 and later): the
    /// GEMV streams its weights during the previous kernel's tail. Default: on, unless the environment variable
    /// GRANARY_CUDA_PDL is 0.
    /// </summary>
    public bool OverlapKernels { get; set; } = Environment.GetEnvironmentVariable("GRANARY_CUDA_PDL") != "0";

    /// <summary>
    /// How <see cref="CudaBackend.UploadWeight"/> stores weight matrices: as given (default), or FP8 E4M3 with a float32
    /// scale per output feature (<see cref="WeightQuantization.Fp8"/>; checkpoints already in FP8 load as FP8 either
    /// way). Q8_0 is the CPU backend's only.
    /// </summary>
    public WeightQuantization Quantization { get; set; }

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

namespace Granary.Compute;

/// <summary>How a backend stores the weight matrices it is given (<see cref="IBackend.UploadWeight"/>).</summary>
public enum WeightQuantization
{
    /// <summary>As the checkpoint has them.</summary>
    None,

    /// <summary>Quantized at load to llama.cpp's Q8_0 (<see cref="Q8_0Blocks"/>): int8 matmuls, about a quarter of the f32 bytes.</summary>
    Q8_0,

    /// <summary>
    /// Quantized at load to FP8 E4M3 with one float32 scale per output channel (<see cref="Fp8.Fp8Quantization"/>): the
    /// CUDA backend reads the codes (half the bf16 bytes), the CPU backend the same values dequantized.
    /// </summary>
    Fp8,
}

/// <summary>The names of <see cref="WeightQuantization"/> on command lines and in deployments.</summary>
public static class WeightQuantizationNames
{
    /// <summary>"none" (or empty), "q8_0" and "fp8", in any case; anything else is an <see cref="ArgumentException"/> that lists the known names.</summary>
    public static WeightQuantization Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "none" => WeightQuantization.None,
        "q8_0" => WeightQuantization.Q8_0,
        "fp8" => WeightQuantization.Fp8,
        _ => throw new ArgumentException($"unknown quantization '{name}' (known: none, q8_0, fp8)"),
    };

    public static string Name(this WeightQuantization quantization) => quantization switch
    {
        WeightQuantization.Q8_0 => "q8_0",
        WeightQuantization.Fp8 => "fp8",
        _ => "none",
    };
}

namespace Granary.Compute;

/// <summary>How a backend stores the weight matrices it is given (<see cref="IBackend.UploadWeight"/>).</summary>
public enum WeightQuantization
{
    /// <summary>As the checkpoint has them.</summary>
    None,

    /// <summary>Quantized at load to llama.cpp's Q8_0 (<see cref="Q8_0Blocks"/>): int8 matmuls, about a quarter of the f32 bytes.</summary>
    Q8_0,
}

/// <summary>The names of <see cref="WeightQuantization"/> on command lines and in deployments.</summary>
public static class WeightQuantizationNames
{
    /// <summary>"none" (or empty) and "q8_0", in any case; anything else is an <see cref="ArgumentException"/> that lists the known names.</summary>
    public static WeightQuantization Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "none" => WeightQuantization.None,
        "q8_0" => WeightQuantization.Q8_0,
        _ => throw new ArgumentException($"unknown quantization '{name}' (known: none, q8_0)"),
    };

    public static string Name(this WeightQuantization quantization) => quantization == WeightQuantization.Q8_0 ? "q8_0" : "none";
}

namespace Granary.Compute;

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>The safetensors name of the type (F32, BF16, F16, I32).</summary>
    public static string SafetensorsName(this DType dtype) => dtype.ToString();
}

namespace Granary.Compute;

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypeExtensions
{
    /// <summary>Bytes per element (block types such as Q8_0 have none: see <see cref="ByteCount"/>).</summary>
    public static int Size(this DType dtype) => dtype switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        DType.F8E4M3 => 1,
        DType.Q8_0 => throw new InvalidOperationException("Q8_0 is stored in blocks of 32 elements and has no size per element; use ByteCount"),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Elements per block: 32 for Q8_0, 1 for the plain types.</summary>
    public static int BlockLength(this DType dtype) => dtype == DType.Q8_0 ? Q8_0Blocks.BlockLength : 1;

    /// <summary>Bytes that <paramref name="elements"/> elements take (a whole number of blocks for block types).</summary>
    public static long ByteCount(this DType dtype, long elements)
    {
        if (dtype != DType.Q8_0) return elements * dtype.Size();
        if (elements % Q8_0Blocks.BlockLength != 0) throw new ArgumentException($"{elements} elements are not a whole number of Q8_0 blocks of {Q8_0Blocks.BlockLength}");
        return elements / Q8_0Blocks.BlockLength * Q8_0Blocks.BlockBytes;
    }

    /// <summary>Elements held by <paramref name="bytes"/> bytes of <paramref name="dtype"/>, or -1 when they are not a whole number of elements (blocks).</summary>
    public static long ElementCount(this DType dtype, long bytes)
    {
        long unit = dtype == DType.Q8_0 ? Q8_0Blocks.BlockBytes : dtype.Size();
        return bytes % unit != 0 ? -1 : bytes / unit * dtype.BlockLength();
    }

    /// <summary>The safetensors name of the type (F32, BF16, F16, I32, F8_E4M3).</summary>
    public static string SafetensorsName(this DType dtype) => dtype == DType.F8E4M3 ? "F8_E4M3" : dtype.ToString();
}

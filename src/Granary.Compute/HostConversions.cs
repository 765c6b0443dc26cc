using Granary.Compute.Cpu;

namespace Granary.Compute;

/// <summary>Converts raw checkpoint elements to and from float32 on the host (small vectors, references, tests).</summary>
public static unsafe class HostConversions
{
    /// <summary>Widens little-endian elements of <paramref name="dtype"/> to floats.</summary>
    public static void ToFloat(DType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        int count = source.Length / dtype.Size();
        if (destination.Length < count) throw new ArgumentException("destination too small", nameof(destination));
        fixed (byte* s = source)
        fixed (float* d = destination)
            WeightRows.ToFloat(dtype, s, d, count);
    }

    public static float[] ToFloat(DType dtype, ReadOnlySpan<byte> source)
    {
        var result = new float[source.Length / dtype.Size()];
        ToFloat(dtype, source, result);
        return result;
    }

    /// <summary>Narrows floats to <paramref name="dtype"/> (round to nearest even) as raw bytes.</summary>
    public static byte[] FromFloat(ReadOnlySpan<float> source, DType dtype)
    {
        var result = new byte[source.Length * dtype.Size()];
        switch (dtype)
        {
            case DType.F32:
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(source).CopyTo(result);
                break;
            case DType.BF16:
                for (int i = 0; i < source.Length; i++) BitConverter.TryWriteBytes(result.AsSpan(2 * i), WeightRows.FloatToBf16(source[i]));
                break;
            case DType.F16:
                for (int i = 0; i < source.Length; i++) BitConverter.TryWriteBytes(result.AsSpan(2 * i), (Half)source[i]);
                break;
            default:
                throw new NotSupportedException($"cannot convert floats to {dtype}");
        }
        return result;
    }
}

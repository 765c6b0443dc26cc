using System.Runtime.InteropServices;

namespace Granary.Compute;

/// <summary>
/// llama.cpp's Q8_0 format on the host: each block of 32 floats becomes an fp16 scale d = max|x| / 127 and the 32
/// values round(x / d) as int8 (quantize_row_q8_0_ref: rounding half away from zero), so that weights quantized
/// here equal those of llama-quantize.
/// </summary>
public static class Q8_0Blocks
{
    public const int BlockLength = 32;
    public const int BlockBytes = 2 + BlockLength;

    /// <summary>Quantizes <paramref name="source"/> (a whole number of blocks) into <paramref name="destination"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> source, Span<byte> destination)
    {
        if (source.Length % BlockLength != 0) throw new ArgumentException($"{source.Length} floats are not a whole number of Q8_0 blocks of {BlockLength}", nameof(source));
        int blocks = source.Length / BlockLength;
        if (destination.Length < blocks * BlockBytes) throw new ArgumentException("destination too small", nameof(destination));
        for (int b = 0; b < blocks; b++)
        {
            var x = source.Slice(b * BlockLength, BlockLength);
            var block = destination.Slice(b * BlockBytes, BlockBytes);
            float max = 0;
            foreach (float v in x) max = MathF.Max(max, MathF.Abs(v));
            float d = max / 127;
            float inverse = d != 0 ? 1 / d : 0;
            MemoryMarshal.Write(block, (Half)d);
            for (int i = 0; i < BlockLength; i++) block[2 + i] = (byte)(sbyte)MathF.Round(x[i] * inverse, MidpointRounding.AwayFromZero);
        }
    }

    public static byte[] Quantize(ReadOnlySpan<float> source)
    {
        var result = new byte[source.Length / BlockLength * BlockBytes];
        Quantize(source, result);
        return result;
    }

    /// <summary>Expands blocks back to floats: element = scale * value.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (source.Length % BlockBytes != 0) throw new ArgumentException($"{source.Length} bytes are not a whole number of Q8_0 blocks of {BlockBytes}", nameof(source));
        int blocks = source.Length / BlockBytes;
        if (destination.Length < blocks * BlockLength) throw new ArgumentException("destination too small", nameof(destination));
        for (int b = 0; b < blocks; b++)
        {
            var block = source.Slice(b * BlockBytes, BlockBytes);
            float d = (float)MemoryMarshal.Read<Half>(block);
            for (int i = 0; i < BlockLength; i++) destination[b * BlockLength + i] = d * (sbyte)block[2 + i];
        }
    }
}

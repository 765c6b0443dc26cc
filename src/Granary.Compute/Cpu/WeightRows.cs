using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Granary.Compute.Cpu;

/// <summary>Widens rows of BF16, F16 or Q8_0 (llama.cpp's row-by-row blocks) values to float32: weights for the f32 kernels and embedding lookups, checkpoint data on the host.</summary>
internal static unsafe class WeightRows
{
    /// <summary>Converts <paramref name="count"/> elements at <paramref name="source"/> (of <paramref name="dtype"/>) to floats.</summary>
    public static void ToFloat(DType dtype, void* source, float* destination, int count)
    {
        switch (dtype)
        {
            case DType.F32:
                new ReadOnlySpan<float>(source, count).CopyTo(new Span<float>(destination, count));
                break;
            case DType.F16:
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, count), new Span<float>(destination, count));
                break;
            case DType.BF16:
                Bf16ToFloat((ushort*)source, destination, count);
                break;
            case DType.Q8_0:
                Q8ToFloat((byte*)source, destination, count);
                break;
            default:
                throw new NotSupportedException($"weights of type {dtype} are not supported");
        }
    }

    /// <summary>bf16 is the top half of a float32: widen and shift.</summary>
    public static void Bf16ToFloat(ushort* source, float* destination, int count)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            for (; i + 8 <= count; i += 8)
            {
                var halves = Sse2.LoadVector128(source + i);
                var widened = Avx2.ConvertToVector256Int32(halves);
                Avx.Store(destination + i, Avx2.ShiftLeftLogical(widened, 16).AsSingle());
            }
        }
        for (; i < count; i++) destination[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
    }

    /// <summary>Q8_0 blocks (whole blocks: count a multiple of 32) to floats: each value times its block's scale.</summary>
    public static void Q8ToFloat(byte* source, float* destination, int count)
    {
        if (!Avx2.IsSupported)
        {
            Q8_0Blocks.Dequantize(new ReadOnlySpan<byte>(source, checked((int)DType.Q8_0.ByteCount(count))), new Span<float>(destination, count));
            return;
        }
        for (int i = 0; i < count; i += Q8_0Blocks.BlockLength, source += Q8_0Blocks.BlockBytes, destination += Q8_0Blocks.BlockLength)
        {
            var scale = Vector256.Create(Scale(source));
            sbyte* q = (sbyte*)(source + 2);
            for (int j = 0; j < Q8_0Blocks.BlockLength; j += 8)
                Avx.Store(destination + j, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + j)) * scale);
        }
    }

    /// <summary>
    /// A block's fp16 scale as a float, inline: (float)Half is a call. The magnitude's bits shifted into a float's place
    /// and times 2^112 give normal and subnormal halves exactly (infinities and NaNs, which no scale is, come out finite).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Scale(byte* block)
    {
        uint h = Unsafe.ReadUnaligned<ushort>(block);
        float magnitude = BitConverter.UInt32BitsToSingle((h & 0x7FFF) << 13) * 5.192297e33f; // 2^112
        return (h & 0x8000) != 0 ? -magnitude : magnitude;
    }

    /// <summary>Rounds float32 to bf16 (round to nearest even), as PyTorch does.</summary>
    public static ushort FloatToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return 0x7FC0;
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}

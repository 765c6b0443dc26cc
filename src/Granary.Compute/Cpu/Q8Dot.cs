using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Granary.Compute.Cpu;

/// <summary>
/// Int8 kernels of the Q8_0 matmul, as llama.cpp computes them: activation rows are quantized to Q8_0 blocks too,
/// and each pair of blocks contributes d_w * d_x * (the int32 dot of their 32 int8 values). The int8 products use
/// AVX-VNNI's vpdpbusd where the processor has it, else AVX2's vpmaddubsw + vpmaddwd (|x| times w signed by x, so
/// the unsigned-by-signed instruction serves two signed operands); a scalar loop without either.
/// </summary>
internal static unsafe class Q8Dot
{
    private const int Block = Q8_0Blocks.BlockLength;
    private const int BlockBytes = Q8_0Blocks.BlockBytes;

    /// <summary>
    /// One activation row to Q8_0 as llama.cpp's AVX2 quantize_row_q8_0 does (scale 127 / max|x|, rounding half to
    /// even): values into <paramref name="q"/>, the scales (fp16-rounded, as the dot reads them) into <paramref name="d"/>.
    /// </summary>
    public static void QuantizeRow(float* x, int n, sbyte* q, float* d)
    {
        for (int b = 0; b < n / Block; b++, x += Block, q += Block)
        {
            float max = 0;
            for (int i = 0; i < Block; i++) max = MathF.Max(max, MathF.Abs(x[i]));
            d[b] = (float)(Half)(max / 127);
            float inverse = max != 0 ? 127 / max : 0;
            for (int i = 0; i < Block; i++) q[i] = (sbyte)MathF.Round(x[i] * inverse, MidpointRounding.ToEven);
        }
    }

    /// <summary>The dot of one Q8_0 weight row (<paramref name="blocks"/> blocks) with one quantized activation row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(byte* w, sbyte* q, float* d, int blocks)
    {
        if (!Avx2.IsSupported) return DotScalar(w, q, d, blocks);
        Vector256<float> acc = default, acc2 = default;
        int b = 0;
        for (; b + 2 <= blocks; b += 2, w += 2 * BlockBytes)
        {
            acc = Vector256.FusedMultiplyAdd(Vector256.Create(Scale(w) * d[b]), Products(w, q + b * Block), acc);
            acc2 = Vector256.FusedMultiplyAdd(Vector256.Create(Scale(w + BlockBytes) * d[b + 1]), Products(w + BlockBytes, q + (b + 1) * Block), acc2);
        }
        if (b < blocks) acc = Vector256.FusedMultiplyAdd(Vector256.Create(Scale(w) * d[b]), Products(w, q + b * Block), acc);
        return Vector256.Sum(acc + acc2);
    }

    /// <summary>
    /// Four Q8_0 weight rows (<paramref name="rowBytes"/> apart) with one quantized activation row, into y[0..3]: decode's
    /// form, which loads each activation block and its absolute value once for four rows and sums the four rows in one
    /// horizontal-add tree (1.25-1.6x <see cref="Dot"/> row by row on one Zen 5 core at stories15M's shapes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4Rows(byte* w, long rowBytes, sbyte* q, float* d, int blocks, float* y)
    {
        if (!Avx2.IsSupported)
        {
            for (int j = 0; j < 4; j++) y[j] = DotScalar(w + j * rowBytes, q, d, blocks);
            return;
        }
        byte* w1 = w + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++)
        {
            var x = Vector256.Load(q + b * Block);
            var ax = Avx2.Abs(x);
            float dx = d[b];
            long at = (long)b * BlockBytes;
            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Scale(w + at) * dx), Products(ax, x, Vector256.Load((sbyte*)(w + at + 2))), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Scale(w1 + at) * dx), Products(ax, x, Vector256.Load((sbyte*)(w1 + at + 2))), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Scale(w2 + at) * dx), Products(ax, x, Vector256.Load((sbyte*)(w2 + at + 2))), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Scale(w3 + at) * dx), Products(ax, x, Vector256.Load((sbyte*)(w3 + at + 2))), a3);
        }
        // Per 128-bit half: [row 0's 4 partials summed in pairs..] twice, then the halves added: y[j] = row j's total.
        var sums = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        (sums.GetLower() + sums.GetUpper()).Store(y);
    }

    /// <summary>One Q8_0 weight row with four quantized activation rows (row stride n values, n / 32 scales): each weight block is loaded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot1x4(byte* w, sbyte* q, float* d, int blocks, int n, float* y, int ldy)
    {
        if (!Avx2.IsSupported)
        {
            for (int r = 0; r < 4; r++) y[r * ldy] = DotScalar(w, q + (long)r * n, d + (long)r * blocks, blocks);
            return;
        }
        sbyte* q1 = q + n, q2 = q1 + n, q3 = q2 + n;
        float* d1 = d + blocks, d2 = d1 + blocks, d3 = d2 + blocks;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, w += BlockBytes)
        {
            var wq = Vector256.Load((sbyte*)(w + 2));
            float s = Scale(w);
            int at = b * Block;
            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(s * d[b]), Products(wq, Vector256.Load(q + at)), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Create(s * d1[b]), Products(wq, Vector256.Load(q1 + at)), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Create(s * d2[b]), Products(wq, Vector256.Load(q2 + at)), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Create(s * d3[b]), Products(wq, Vector256.Load(q3 + at)), a3);
        }
        y[0] = Vector256.Sum(a0); y[ldy] = Vector256.Sum(a1); y[2 * ldy] = Vector256.Sum(a2); y[3 * ldy] = Vector256.Sum(a3);
    }

    /// <summary>
    /// A block's fp16 scale as a float, inline: (float)Half is a call, which costs as much as a block's products and
    /// makes the JIT spill the running sums. The magnitude's bits shifted into a float's place and times 2^112 give
    /// normal and subnormal halves exactly (infinities and NaNs, which no scale is, come out finite).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scale(byte* block)
    {
        uint h = Unsafe.ReadUnaligned<ushort>(block);
        float magnitude = BitConverter.UInt32BitsToSingle((h & 0x7FFF) << 13) * 5.192297e33f; // 2^112
        return (h & 0x8000) != 0 ? -magnitude : magnitude;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Products(byte* block, sbyte* x) => Products(Vector256.Load((sbyte*)(block + 2)), Vector256.Load(x));

    /// <summary>The 32 products of a block pair, summed in 8 int32 lanes, as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Products(Vector256<sbyte> w, Vector256<sbyte> x) => Products(Avx2.Abs(x), x, w);

    /// <summary><see cref="Products(Vector256{sbyte}, Vector256{sbyte})"/> with |x| given, for callers that reuse it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Products(Vector256<byte> ax, Vector256<sbyte> x, Vector256<sbyte> w)
    {
        var sw = Avx2.Sign(w, x);
        if (AvxVnni.IsSupported) return Avx.ConvertToVector256Single(AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, ax, sw));
        // |x| * sign(w, x) in pairs: at most 2 * 127 * 128, inside an int16.
        var pairs = Avx2.MultiplyAddAdjacent(ax, sw);
        return Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1)));
    }

    private static float DotScalar(byte* w, sbyte* q, float* d, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++, w += BlockBytes, q += Block)
        {
            int dot = 0;
            sbyte* wq = (sbyte*)(w + 2);
            for (int i = 0; i < Block; i++) dot += wq[i] * q[i];
            sum += Scale(w) * d[b] * dot;
        }
        return sum;
    }
}

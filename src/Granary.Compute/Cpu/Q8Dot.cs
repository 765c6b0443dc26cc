using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Granary.Compute.Cpu;

/// <summary>
/// Int8 kernels of the Q8_0 matmul, as llama.cpp computes them: activation rows are quantized to Q8_0 blocks too,
/// and each pair of blocks contributes d_w * d_x * (the int32 dot of their 32 int8 values). The weights are in
/// <see cref="Q8Tiles"/>; the int8 products use AVX-VNNI's vpdpbusd where the processor has it, else AVX2's
/// vpmaddubsw + vpmaddwd (|x| times w signed by x, so the unsigned-by-signed instruction serves two signed operands);
/// a scalar loop without either.
/// </summary>
internal static unsafe class Q8Dot
{
    private const int Block = Q8_0Blocks.BlockLength;

    /// <summary>
    /// One activation row to Q8_0 as llama.cpp's AVX2 quantize_row_q8_0 does (scale 127 / max|x|, rounding half to
    /// even): values into <paramref name="q"/>, the scales (fp16-rounded, as the dot reads them) into <paramref name="d"/>,
    /// each block's sum of values into <paramref name="sums"/>.
    /// </summary>
    public static void QuantizeRow(float* x, int n, sbyte* q, float* d, int* sums)
    {
        for (int b = 0; b < n / Block; b++, x += Block, q += Block)
        {
            if (Avx2.IsSupported)
            {
                var v0 = Vector256.Load(x); var v1 = Vector256.Load(x + 8); var v2 = Vector256.Load(x + 16); var v3 = Vector256.Load(x + 24);
                float max = HorizontalMax(Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3))));
                d[b] = (float)(Half)(max / 127);
                var inverse = Vector256.Create(max != 0 ? 127 / max : 0);
                // cvtps2dq rounds half to even (the default rounding mode), as MathF.Round(ToEven) below.
                var i0 = Avx.ConvertToVector256Int32(v0 * inverse); var i1 = Avx.ConvertToVector256Int32(v1 * inverse);
                var i2 = Avx.ConvertToVector256Int32(v2 * inverse); var i3 = Avx.ConvertToVector256Int32(v3 * inverse);
                Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store(q);
                sums[b] = Vector256.Sum((i0 + i1) + (i2 + i3));
                continue;
            }
            float m = 0;
            for (int i = 0; i < Block; i++) m = MathF.Max(m, MathF.Abs(x[i]));
            d[b] = (float)(Half)(m / 127);
            float inv = m != 0 ? 127 / m : 0;
            int sum = 0;
            for (int i = 0; i < Block; i++) sum += q[i] = (sbyte)MathF.Round(x[i] * inv, MidpointRounding.ToEven);
            sums[b] = sum;
        }
    }

    private static float HorizontalMax(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        return Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }

    /// <summary>
    /// The eight rows of one tile (<see cref="Q8Tiles"/>, <paramref name="blocks"/> blocks) with one quantized activation
    /// row, into y[0..7]. A group of 4 activation values, broadcast, meets the eight rows' 4 values in one vpdpbusd; the
    /// block's eight int32 sums (less 128 times the block's activation sum, <paramref name="sums"/>) times the rows'
    /// scales times the activation scale add into the eight float32 outputs. About 2.2x the four-row dot on llama.cpp's
    /// row-by-row layout that it replaced (one Zen 5 core, stories15M's shapes), which needed a horizontal sum per row
    /// and a scalar fp16 scale per row and block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot8Rows(byte* tile, int blocks, sbyte* q, float* d, int* sums, float* y)
    {
        if (!Avx2.IsSupported)
        {
            Dot8RowsScalar(tile, blocks, q, d, y);
            return;
        }
        Vector256<float> acc = default;
        for (int b = 0; b < blocks; b++, tile += Q8Tiles.TileBlockBytes)
        {
            int* x = (int*)(q + b * Block);
            byte* values = tile + Q8Tiles.Rows * sizeof(float);
            Vector256<int> even, odd;
            if (AvxVnni.IsSupported)
            {
                // Two chains, so that one vpdpbusd's latency does not hold up the next.
                even = Vector256.Create(-Q8Tiles.Offset * sums[b]);
                odd = Vector256<int>.Zero;
                for (int g = 0; g < Q8Tiles.Groups; g += 2)
                {
                    even = AvxVnni.MultiplyWideningAndAdd(even, Vector256.Load(values + g * 32), Vector256.Create(x[g]).AsSByte());
                    odd = AvxVnni.MultiplyWideningAndAdd(odd, Vector256.Load(values + g * 32 + 32), Vector256.Create(x[g + 1]).AsSByte());
                }
            }
            else
            {
                even = odd = Vector256<int>.Zero;
                for (int g = 0; g < Q8Tiles.Groups; g += 2)
                {
                    even += GroupProducts(Vector256.Load(values + g * 32), Vector256.Create(x[g]).AsSByte());
                    odd += GroupProducts(Vector256.Load(values + g * 32 + 32), Vector256.Create(x[g + 1]).AsSByte());
                }
            }
            acc = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(even + odd), Vector256.Load((float*)tile) * Vector256.Create(d[b]), acc);
        }
        acc.Store(y);
    }

    /// <summary>
    /// <see cref="Dot8Rows"/> for four activation rows (row stride <paramref name="n"/> values, <paramref name="blocks"/>
    /// scales and sums), into y, y + ldy, y + 2 ldy, y + 3 ldy: each group of weights, loaded once, meets the four rows
    /// in four independent vpdpbusd chains (1.5x four <see cref="Dot8Rows"/> on one Zen 5 core at 16 rows).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot8RowsBy4(byte* tile, int blocks, sbyte* q, int n, float* d, int* sums, float* y, int ldy)
    {
        if (!AvxVnni.IsSupported)
        {
            for (int r = 0; r < 4; r++) Dot8Rows(tile, blocks, q + (long)r * n, d + r * blocks, sums + r * blocks, y + (long)r * ldy);
            return;
        }
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, tile += Q8Tiles.TileBlockBytes)
        {
            int* x0 = (int*)(q + b * Block), x1 = (int*)((sbyte*)x0 + n), x2 = (int*)((sbyte*)x1 + n), x3 = (int*)((sbyte*)x2 + n);
            var i0 = Vector256.Create(-Q8Tiles.Offset * sums[b]);
            var i1 = Vector256.Create(-Q8Tiles.Offset * sums[blocks + b]);
            var i2 = Vector256.Create(-Q8Tiles.Offset * sums[2 * blocks + b]);
            var i3 = Vector256.Create(-Q8Tiles.Offset * sums[3 * blocks + b]);
            byte* values = tile + Q8Tiles.Rows * sizeof(float);
            for (int g = 0; g < Q8Tiles.Groups; g++)
            {
                var w = Vector256.Load(values + g * 32);
                i0 = AvxVnni.MultiplyWideningAndAdd(i0, w, Vector256.Create(x0[g]).AsSByte());
                i1 = AvxVnni.MultiplyWideningAndAdd(i1, w, Vector256.Create(x1[g]).AsSByte());
                i2 = AvxVnni.MultiplyWideningAndAdd(i2, w, Vector256.Create(x2[g]).AsSByte());
                i3 = AvxVnni.MultiplyWideningAndAdd(i3, w, Vector256.Create(x3[g]).AsSByte());
            }
            var scales = Vector256.Load((float*)tile);
            a0 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(i0), scales * Vector256.Create(d[b]), a0);
            a1 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(i1), scales * Vector256.Create(d[blocks + b]), a1);
            a2 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(i2), scales * Vector256.Create(d[2 * blocks + b]), a2);
            a3 = Vector256.FusedMultiplyAdd(Avx.ConvertToVector256Single(i3), scales * Vector256.Create(d[3 * blocks + b]), a3);
        }
        a0.Store(y); a1.Store(y + ldy); a2.Store(y + 2 * ldy); a3.Store(y + 3 * ldy);
    }

    /// <summary>AVX2 without VNNI: the signed values back (xor 128), then |x| times w signed by x in pairs, as int32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> GroupProducts(Vector256<byte> offsetValues, Vector256<sbyte> x)
    {
        var w = (offsetValues ^ Vector256.Create(Q8Tiles.Offset)).AsSByte();
        // |x| * sign(w, x) in pairs: at most 2 * 127 * 128, inside an int16.
        var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(x), Avx2.Sign(w, x));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    private static void Dot8RowsScalar(byte* tile, int blocks, sbyte* q, float* d, float* y)
    {
        for (int r = 0; r < Q8Tiles.Rows; r++) y[r] = 0;
        for (int b = 0; b < blocks; b++, tile += Q8Tiles.TileBlockBytes)
        {
            for (int r = 0; r < Q8Tiles.Rows; r++)
            {
                int dot = 0;
                for (int i = 0; i < Block; i++) dot += (tile[Q8Tiles.ValueAt(r, i)] - Q8Tiles.Offset) * q[b * Block + i];
                y[r] += ((float*)tile)[r] * d[b] * dot;
            }
        }
    }
}

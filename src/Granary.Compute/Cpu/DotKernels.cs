using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Granary.Compute.Cpu;

/// <summary>
/// The register tiles of the f32 matmul: dot products of activation rows with weight rows (both contiguous along
/// the inner dimension, so neither needs a transpose), several sums in flight to hide the FMA latency.
/// </summary>
internal static unsafe class DotKernels
{
    /// <summary>
    /// Four activation rows (stride n) against four weight rows (stride n): y[r * ldy + j] for r, j in 0..3. Sixteen
    /// running sums stay in registers; each step loads 4 + 4 vectors for 16 FMAs. In Vector512 where the processor
    /// runs 512-bit operations at full width (Zen 5: 179-190 GFLOP/s on one core at stories15M's shapes against the
    /// Vector256 tile's 92-100); Vector256 on Zen 4, which splits them in two and where a Vector512 tile measured
    /// 75 GFLOP/s against 97 (that tile summed each accumulator on its own, not as <see cref="SumTile"/> does).
    /// </summary>
    public static void Dot4x4(float* x, float* w, int n, float* y, int ldy)
    {
        if (UseVector512) Dot4x4Vector512(x, w, n, y, ldy);
        else if (Vector256.IsHardwareAccelerated) Dot4x4Vector256(x, w, n, y, ldy);
        else Dot4x4Scalar(x, w, n, y, ldy);
    }

    /// <summary>Whether <see cref="Dot4x4"/> runs in Vector512: AVX-512 on any processor but AMD's family 19h (Zen 4).</summary>
    private static readonly bool UseVector512 = Avx512F.IsSupported && Vector512.IsHardwareAccelerated && !IsAmdFamily19h();

    private static bool IsAmdFamily19h()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        bool amd = ebx == 0x68747541 && edx == 0x69746E65 && ecx == 0x444D4163; // "AuthenticAMD"
        int eax = X86Base.CpuId(1, 0).Eax;
        int family = ((eax >> 8) & 0xF) + ((eax >> 20) & 0xFF);
        return amd && family == 0x19;
    }

    /// <summary>The inner dimension's last elements that fill no whole vector.</summary>
    private static void AddTail(float* x, float* w, int n, int k, float* y, int o)
    {
        for (; k < n; k++)
        {
            for (int r = 0; r < 4; r++)
            {
                float xv = x[r * n + k];
                for (int j = 0; j < 4; j++) y[r * o + j] += xv * w[j * n + k];
            }
        }
    }

    private static void Dot4x4Scalar(float* x, float* w, int n, float* y, int o)
    {
        for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++) y[r * o + j] = 0;
        AddTail(x, w, n, 0, y, o);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x4Vector256(float* x, float* w, int n, float* y, int o)
    {
        float* x1 = x + n, x2 = x1 + n, x3 = x2 + n;
        float* w1 = w + n, w2 = w1 + n, w3 = w2 + n;
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector256<float> a30 = default, a31 = default, a32 = default, a33 = default;
        int k = 0;
        for (; k + 8 <= n; k += 8)
        {
            var v0 = Vector256.Load(w + k); var v1 = Vector256.Load(w1 + k);
            var v2 = Vector256.Load(w2 + k); var v3 = Vector256.Load(w3 + k);
            var u = Vector256.Load(x + k);
            a00 = Vector256.FusedMultiplyAdd(u, v0, a00); a01 = Vector256.FusedMultiplyAdd(u, v1, a01);
            a02 = Vector256.FusedMultiplyAdd(u, v2, a02); a03 = Vector256.FusedMultiplyAdd(u, v3, a03);
            u = Vector256.Load(x1 + k);
            a10 = Vector256.FusedMultiplyAdd(u, v0, a10); a11 = Vector256.FusedMultiplyAdd(u, v1, a11);
            a12 = Vector256.FusedMultiplyAdd(u, v2, a12); a13 = Vector256.FusedMultiplyAdd(u, v3, a13);
            u = Vector256.Load(x2 + k);
            a20 = Vector256.FusedMultiplyAdd(u, v0, a20); a21 = Vector256.FusedMultiplyAdd(u, v1, a21);
            a22 = Vector256.FusedMultiplyAdd(u, v2, a22); a23 = Vector256.FusedMultiplyAdd(u, v3, a23);
            u = Vector256.Load(x3 + k);
            a30 = Vector256.FusedMultiplyAdd(u, v0, a30); a31 = Vector256.FusedMultiplyAdd(u, v1, a31);
            a32 = Vector256.FusedMultiplyAdd(u, v2, a32); a33 = Vector256.FusedMultiplyAdd(u, v3, a33);
        }
        y[0] = Vector256.Sum(a00); y[1] = Vector256.Sum(a01); y[2] = Vector256.Sum(a02); y[3] = Vector256.Sum(a03);
        y[o] = Vector256.Sum(a10); y[o + 1] = Vector256.Sum(a11); y[o + 2] = Vector256.Sum(a12); y[o + 3] = Vector256.Sum(a13);
        y[2 * o] = Vector256.Sum(a20); y[2 * o + 1] = Vector256.Sum(a21); y[2 * o + 2] = Vector256.Sum(a22); y[2 * o + 3] = Vector256.Sum(a23);
        y[3 * o] = Vector256.Sum(a30); y[3 * o + 1] = Vector256.Sum(a31); y[3 * o + 2] = Vector256.Sum(a32); y[3 * o + 3] = Vector256.Sum(a33);
        if (k < n) AddTail(x, w, n, k, y, o);
    }

    // The Vector256 tile's body at twice the width: .NET 10 has no public interface over vector widths (ISimdVector is
    // internal) through which one generic body could serve both.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x4Vector512(float* x, float* w, int n, float* y, int o)
    {
        float* x1 = x + n, x2 = x1 + n, x3 = x2 + n;
        float* w1 = w + n, w2 = w1 + n, w3 = w2 + n;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        int k = 0;
        for (; k + 16 <= n; k += 16)
        {
            var v0 = Vector512.Load(w + k); var v1 = Vector512.Load(w1 + k);
            var v2 = Vector512.Load(w2 + k); var v3 = Vector512.Load(w3 + k);
            var u = Vector512.Load(x + k);
            a00 = Vector512.FusedMultiplyAdd(u, v0, a00); a01 = Vector512.FusedMultiplyAdd(u, v1, a01);
            a02 = Vector512.FusedMultiplyAdd(u, v2, a02); a03 = Vector512.FusedMultiplyAdd(u, v3, a03);
            u = Vector512.Load(x1 + k);
            a10 = Vector512.FusedMultiplyAdd(u, v0, a10); a11 = Vector512.FusedMultiplyAdd(u, v1, a11);
            a12 = Vector512.FusedMultiplyAdd(u, v2, a12); a13 = Vector512.FusedMultiplyAdd(u, v3, a13);
            u = Vector512.Load(x2 + k);
            a20 = Vector512.FusedMultiplyAdd(u, v0, a20); a21 = Vector512.FusedMultiplyAdd(u, v1, a21);
            a22 = Vector512.FusedMultiplyAdd(u, v2, a22); a23 = Vector512.FusedMultiplyAdd(u, v3, a23);
            u = Vector512.Load(x3 + k);
            a30 = Vector512.FusedMultiplyAdd(u, v0, a30); a31 = Vector512.FusedMultiplyAdd(u, v1, a31);
            a32 = Vector512.FusedMultiplyAdd(u, v2, a32); a33 = Vector512.FusedMultiplyAdd(u, v3, a33);
        }
        var sums = SumTile(
            SumLanes(SumHalves(a00, a10), SumHalves(a20, a30)), SumLanes(SumHalves(a01, a11), SumHalves(a21, a31)),
            SumLanes(SumHalves(a02, a12), SumHalves(a22, a32)), SumLanes(SumHalves(a03, a13), SumHalves(a23, a33)));
        Avx512F.ExtractVector128(sums, 0).Store(y);
        Avx512F.ExtractVector128(sums, 1).Store(y + o);
        Avx512F.ExtractVector128(sums, 2).Store(y + 2 * o);
        Avx512F.ExtractVector128(sums, 3).Store(y + 3 * o);
        if (k < n) AddTail(x, w, n, k, y, o);
    }

    // The sixteen sums of a 4 x 4 tile as one transposing tree (about 50 shuffles and adds where sixteen Vector512.Sum
    // take about 130, which at 288 inputs cost a third of the tile's time): each step adds pairs of 128-bit lanes or
    // of elements from two vectors, so that at the end 128-bit lane r holds row r's four outputs.

    /// <summary>Lanes [a0+a2, a1+a3, b0+b2, b1+b3] of two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SumHalves(Vector512<float> a, Vector512<float> b) =>
        Avx512F.Shuffle4x128(a, b, 0x44) + Avx512F.Shuffle4x128(a, b, 0xEE);

    /// <summary>From two <see cref="SumHalves"/> results of accumulators (a, b) and (c, d): lane i holds the i-th one's four partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SumLanes(Vector512<float> ab, Vector512<float> cd) =>
        Avx512F.Shuffle4x128(ab, cd, 0x88) + Avx512F.Shuffle4x128(ab, cd, 0xDD);

    /// <summary>From the <see cref="SumLanes"/> results of outputs 0..3 (lanes = rows): lane r holds row r's four totals.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SumTile(Vector512<float> j0, Vector512<float> j1, Vector512<float> j2, Vector512<float> j3) =>
        SumPairs(SumPairs(j0, j1), SumPairs(j2, j3));

    /// <summary>Within each lane: [a0+a1, a2+a3, b0+b1, b2+b3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SumPairs(Vector512<float> a, Vector512<float> b) =>
        Avx512F.Shuffle(a, b, 0x88) + Avx512F.Shuffle(a, b, 0xDD);

    /// <summary>One activation row against four weight rows, with two sums per row to hide FMA latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot1x4(float* x, float* w, int n, float* y)
    {
        float* w1 = w + n, w2 = w1 + n, w3 = w2 + n;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int k = 0;
        for (; k + 16 <= n; k += 16)
        {
            var u = Vector256.Load(x + k);
            var t = Vector256.Load(x + k + 8);
            a0 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w + k), a0);
            a1 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w1 + k), a1);
            a2 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w2 + k), a2);
            a3 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w3 + k), a3);
            b0 = Vector256.FusedMultiplyAdd(t, Vector256.Load(w + k + 8), b0);
            b1 = Vector256.FusedMultiplyAdd(t, Vector256.Load(w1 + k + 8), b1);
            b2 = Vector256.FusedMultiplyAdd(t, Vector256.Load(w2 + k + 8), b2);
            b3 = Vector256.FusedMultiplyAdd(t, Vector256.Load(w3 + k + 8), b3);
        }
        for (; k + 8 <= n; k += 8)
        {
            var u = Vector256.Load(x + k);
            a0 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w + k), a0);
            a1 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w1 + k), a1);
            a2 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w2 + k), a2);
            a3 = Vector256.FusedMultiplyAdd(u, Vector256.Load(w3 + k), a3);
        }
        float s0 = Vector256.Sum(a0 + b0), s1 = Vector256.Sum(a1 + b1), s2 = Vector256.Sum(a2 + b2), s3 = Vector256.Sum(a3 + b3);
        for (; k < n; k++)
        {
            float xv = x[k];
            s0 += xv * w[k]; s1 += xv * w1[k]; s2 += xv * w2[k]; s3 += xv * w3[k];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    /// <summary>One row against one row with four running sums, so loads and FMAs overlap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* x, float* w, int n)
    {
        Vector256<float> a = default, b = default, c = default, d = default;
        int k = 0;
        for (; k + 32 <= n; k += 32)
        {
            a = Vector256.FusedMultiplyAdd(Vector256.Load(x + k), Vector256.Load(w + k), a);
            b = Vector256.FusedMultiplyAdd(Vector256.Load(x + k + 8), Vector256.Load(w + k + 8), b);
            c = Vector256.FusedMultiplyAdd(Vector256.Load(x + k + 16), Vector256.Load(w + k + 16), c);
            d = Vector256.FusedMultiplyAdd(Vector256.Load(x + k + 24), Vector256.Load(w + k + 24), d);
        }
        for (; k + 8 <= n; k += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(x + k), Vector256.Load(w + k), a);
        float sum = Vector256.Sum((a + b) + (c + d));
        for (; k < n; k++) sum += x[k] * w[k];
        return sum;
    }
}

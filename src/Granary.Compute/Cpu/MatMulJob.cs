using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Granary.Compute.Cpu;

/// <summary>
/// y = x * W^T (+ bias) for float32 activations. Chunks are groups of output features; within a chunk
/// every 4 weight rows are read once from memory and multiplied with 4 activation rows at a time
/// (16 running sums in registers), so weight traffic, the bound of decode, is one pass per step.
/// BF16/F16 weights are widened 4 rows at a time into a per-thread scratch that stays in cache.
/// </summary>
internal sealed unsafe class MatMulJob : CpuJob
{
    private const int MaxOutputsPerChunk = 64;
    private const int Tile = 4;

    public float* X;
    public void* W;
    public DType WType;
    public float* Bias;
    public float* Y;
    public int Rows;
    public int In;
    public int Out;

    /// <summary>Outputs per chunk, a multiple of the tile: small enough that every thread gets several chunks of a narrow matrix.</summary>
    public int OutputsPerChunk = MaxOutputsPerChunk;

    [ThreadStatic] private static float[]? t_scratch;

    /// <summary>Sets <see cref="OutputsPerChunk"/> for <see cref="Out"/> outputs on <paramref name="threads"/> threads and returns the chunk count.</summary>
    public int Plan(int threads)
    {
        int perChunk = Out / (threads * 8) / Tile * Tile;
        OutputsPerChunk = Math.Clamp(perChunk, Tile, MaxOutputsPerChunk);
        return (Out + OutputsPerChunk - 1) / OutputsPerChunk;
    }

    public override void Execute(int chunk)
    {
        int o0 = chunk * OutputsPerChunk;
        int o1 = Math.Min(Out, o0 + OutputsPerChunk);
        int n = In;
        float[]? scratch = null;
        if (WType != DType.F32)
        {
            scratch = t_scratch;
            if (scratch == null || scratch.Length < Tile * n) t_scratch = scratch = GC.AllocateUninitializedArray<float>(Tile * n, pinned: true);
        }
        fixed (float* scratchPtr = scratch)
        {
            if (Rows == 1)
            {
                // Decode: one activation row. Walking the weights row after row keeps a single sequential
                // stream that the hardware prefetcher follows; tiles of 4 rows interleave 4 short streams
                // and reach half the bandwidth on narrow models.
                for (int row = o0; row < o1; row += Tile)
                {
                    int count = Math.Min(Tile, o1 - row);
                    float* w = WeightRowsAt(row, count, scratchPtr);
                    for (int j = 0; j < count; j++) Y[row + j] = Dot(X, w + (long)j * n, n);
                }
                AddBias(o0, o1);
                return;
            }
            int o = o0;
            for (; o + Tile <= o1; o += Tile)
            {
                float* w = WeightRowsAt(o, Tile, scratchPtr);
                int r = 0;
                for (; r + Tile <= Rows; r += Tile) Dot4x4(X + (long)r * n, w, n, Y + (long)r * Out + o);
                for (; r < Rows; r++) Dot1x4(X + (long)r * n, w, n, Y + (long)r * Out + o);
            }
            for (; o < o1; o++)
            {
                float* w = WeightRowsAt(o, 1, scratchPtr);
                for (int r = 0; r < Rows; r++) Y[(long)r * Out + o] = Dot(X + (long)r * n, w, n);
            }
        }
        AddBias(o0, o1);
    }

    private void AddBias(int o0, int o1)
    {
        if (Bias == null) return;
        for (int r = 0; r < Rows; r++)
        {
            float* y = Y + (long)r * Out;
            for (int o = o0; o < o1; o++) y[o] += Bias[o];
        }
    }

    private float* WeightRowsAt(int row, int count, float* scratch)
    {
        if (WType == DType.F32) return (float*)W + (long)row * In;
        byte* source = (byte*)W + (long)row * In * WType.Size();
        WeightRows.ToFloat(WType, source, scratch, count * In);
        return scratch;
    }

    /// <summary>Four activation rows against four weight rows: y[r * Out + j] for r, j in 0..3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Dot4x4(float* x, float* w, int n, float* y)
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
        int o = Out;
        y[0] = Vector256.Sum(a00); y[1] = Vector256.Sum(a01); y[2] = Vector256.Sum(a02); y[3] = Vector256.Sum(a03);
        y[o] = Vector256.Sum(a10); y[o + 1] = Vector256.Sum(a11); y[o + 2] = Vector256.Sum(a12); y[o + 3] = Vector256.Sum(a13);
        y[2 * o] = Vector256.Sum(a20); y[2 * o + 1] = Vector256.Sum(a21); y[2 * o + 2] = Vector256.Sum(a22); y[2 * o + 3] = Vector256.Sum(a23);
        y[3 * o] = Vector256.Sum(a30); y[3 * o + 1] = Vector256.Sum(a31); y[3 * o + 2] = Vector256.Sum(a32); y[3 * o + 3] = Vector256.Sum(a33);
        for (; k < n; k++)
        {
            for (int r = 0; r < 4; r++)
            {
                float xv = x[r * n + k];
                for (int j = 0; j < 4; j++) y[r * o + j] += xv * w[j * n + k];
            }
        }
    }

    /// <summary>One activation row against four weight rows, with two sums per row to hide FMA latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot1x4(float* x, float* w, int n, float* y)
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
    private static float Dot(float* x, float* w, int n)
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

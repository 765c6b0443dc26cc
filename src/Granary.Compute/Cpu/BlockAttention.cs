using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Granary.Compute.Cpu;

/// <summary>
/// Causal attention of a block of up to 8 query rows of one sequence at consecutive positions (a prefill chunk)
/// for one head, computed 8 rows at a time: each cached key and value is read once for the whole block and
/// multiplied with a vector of the rows' queries (transposed, so no horizontal sums), instead of once per row.
/// Scores are [key, row] vectors; the softmax runs over them lane-wise.
/// </summary>
internal static unsafe class BlockAttention
{
    public const int Rows = 8;

    /// <summary>Floats of scratch that <see cref="Run"/> needs for <paramref name="length"/> positions (scores, queries, spill, row offsets).</summary>
    public static int ScratchFloats(int length, int headDim) => length * Rows + headDim * Rows + 64 + 2 * length;

    /// <summary>
    /// Rows [row0, row0 + count) of <paramref name="q"/> ([rows, heads * headDim]); positions first..first + count - 1;
    /// keys and values of kvHead at the sequence's slots (through <paramref name="blocks"/>). <paramref name="scratch"/>
    /// holds <see cref="ScratchFloats"/> floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* q, float* kCache, float* vCache, float* output, int heads, int headDim, int kvDim, int head, int kvHead,
        int blockSize, float scale, ReadOnlySpan<int> blocks, int row0, int count, int first, float* scratch)
    {
        int length = first + count;
        float* scores = scratch;
        float* qT = scores + (long)length * Rows;
        float* spill = qT + headDim * Rows;
        // Each position's row offset in the caches, found once: a division a lookup cost more than the dots it fed.
        long* rowAt = (long*)(spill + 64);
        for (int b = 0, t = 0; t < length; b++)
        {
            long start = ((long)blocks[b] * blockSize) * kvDim + (long)kvHead * headDim;
            for (int end = Math.Min(length, t + blockSize); t < end; t++, start += kvDim) rowAt[t] = start;
        }

        // The queries transposed ([dim, row]) and scaled; missing rows are zero.
        for (int i = 0; i < Rows; i++)
        {
            float* qi = q + ((long)(row0 + i) * heads + head) * headDim;
            for (int d = 0; d < headDim; d++) qT[d * Rows + i] = i < count ? qi[d] * scale : 0;
        }

        var max = Vector256.Create(float.NegativeInfinity);
        int key = 0;
        // Eight keys at a time: each query column is loaded once for the eight keys' broadcast elements.
        for (; key + Rows <= length; key += Rows)
        {
            float* k0 = kCache + rowAt[key], k1 = kCache + rowAt[key + 1];
            float* k2 = kCache + rowAt[key + 2], k3 = kCache + rowAt[key + 3];
            float* k4 = kCache + rowAt[key + 4], k5 = kCache + rowAt[key + 5];
            float* k6 = kCache + rowAt[key + 6], k7 = kCache + rowAt[key + 7];
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            for (int d = 0; d < headDim; d++)
            {
                var qd = Vector256.Load(qT + d * Rows);
                s0 = Vector256.FusedMultiplyAdd(Vector256.Create(k0[d]), qd, s0); s1 = Vector256.FusedMultiplyAdd(Vector256.Create(k1[d]), qd, s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Create(k2[d]), qd, s2); s3 = Vector256.FusedMultiplyAdd(Vector256.Create(k3[d]), qd, s3);
                s4 = Vector256.FusedMultiplyAdd(Vector256.Create(k4[d]), qd, s4); s5 = Vector256.FusedMultiplyAdd(Vector256.Create(k5[d]), qd, s5);
                s6 = Vector256.FusedMultiplyAdd(Vector256.Create(k6[d]), qd, s6); s7 = Vector256.FusedMultiplyAdd(Vector256.Create(k7[d]), qd, s7);
            }
            max = Vector256.Max(max, Score(s0, key, first, scores)); max = Vector256.Max(max, Score(s1, key + 1, first, scores));
            max = Vector256.Max(max, Score(s2, key + 2, first, scores)); max = Vector256.Max(max, Score(s3, key + 3, first, scores));
            max = Vector256.Max(max, Score(s4, key + 4, first, scores)); max = Vector256.Max(max, Score(s5, key + 5, first, scores));
            max = Vector256.Max(max, Score(s6, key + 6, first, scores)); max = Vector256.Max(max, Score(s7, key + 7, first, scores));
        }
        for (; key < length; key++)
        {
            float* k = kCache + rowAt[key];
            Vector256<float> a0 = default, a1 = default;
            int d = 0;
            for (; d + 2 <= headDim; d += 2)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(k[d]), Vector256.Load(qT + d * Rows), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(k[d + 1]), Vector256.Load(qT + (d + 1) * Rows), a1);
            }
            if (d < headDim) a0 = Vector256.FusedMultiplyAdd(Vector256.Create(k[d]), Vector256.Load(qT + d * Rows), a0);
            max = Vector256.Max(max, Score(a0 + a1, key, first, scores));
        }

        var sum = Vector256<float>.Zero;
        for (int t = 0; t < length; t++)
        {
            var p = Vector256.Exp(Vector256.Load(scores + (long)t * Rows) - max);
            p.Store(scores + (long)t * Rows);
            sum += p;
        }
        var inverse = Vector256<float>.One / sum;

        // Output dims 8 at a time: 8 accumulators of [row] vectors, each value element broadcast once.
        for (int d0 = 0; d0 < headDim; d0 += Rows)
        {
            int width = Math.Min(Rows, headDim - d0);
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
            for (int t = 0; t < length; t++)
            {
                float* v = vCache + rowAt[t] + d0;
                var p = Vector256.Load(scores + (long)t * Rows);
                if (width == Rows)
                {
                    c0 = Vector256.FusedMultiplyAdd(Vector256.Create(v[0]), p, c0); c1 = Vector256.FusedMultiplyAdd(Vector256.Create(v[1]), p, c1);
                    c2 = Vector256.FusedMultiplyAdd(Vector256.Create(v[2]), p, c2); c3 = Vector256.FusedMultiplyAdd(Vector256.Create(v[3]), p, c3);
                    c4 = Vector256.FusedMultiplyAdd(Vector256.Create(v[4]), p, c4); c5 = Vector256.FusedMultiplyAdd(Vector256.Create(v[5]), p, c5);
                    c6 = Vector256.FusedMultiplyAdd(Vector256.Create(v[6]), p, c6); c7 = Vector256.FusedMultiplyAdd(Vector256.Create(v[7]), p, c7);
                    continue;
                }
                // A last, narrower group of dims (head sizes not a multiple of 8).
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(v[0]), p, c0);
                if (width > 1) c1 = Vector256.FusedMultiplyAdd(Vector256.Create(v[1]), p, c1);
                if (width > 2) c2 = Vector256.FusedMultiplyAdd(Vector256.Create(v[2]), p, c2);
                if (width > 3) c3 = Vector256.FusedMultiplyAdd(Vector256.Create(v[3]), p, c3);
                if (width > 4) c4 = Vector256.FusedMultiplyAdd(Vector256.Create(v[4]), p, c4);
                if (width > 5) c5 = Vector256.FusedMultiplyAdd(Vector256.Create(v[5]), p, c5);
                if (width > 6) c6 = Vector256.FusedMultiplyAdd(Vector256.Create(v[6]), p, c6);
            }
            (c0 * inverse).Store(spill); (c1 * inverse).Store(spill + 8); (c2 * inverse).Store(spill + 16); (c3 * inverse).Store(spill + 24);
            (c4 * inverse).Store(spill + 32); (c5 * inverse).Store(spill + 40); (c6 * inverse).Store(spill + 48); (c7 * inverse).Store(spill + 56);
            for (int i = 0; i < count; i++)
            {
                float* o = output + ((long)(row0 + i) * heads + head) * headDim + d0;
                for (int j = 0; j < width; j++) o[j] = spill[j * Rows + i];
            }
        }
    }

    /// <summary>Stores key <paramref name="t"/>'s scores of the rows, masked: row i sees keys up to first + i. Returns them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Score(Vector256<float> s, int t, int first, float* scores)
    {
        if (t > first) s = Vector256.ConditionalSelect(Vector256.LessThan(RowIndex(), Vector256.Create((float)(t - first))), Vector256.Create(float.NegativeInfinity), s);
        s.Store(scores + (long)t * Rows);
        return s;
    }

    private static Vector256<float> RowIndex() => Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7);
}

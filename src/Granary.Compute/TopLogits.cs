using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Granary.Compute;

/// <summary>
/// The largest logits of a row and its log-sum-exp, computed on the host: the CPU backend's
/// <see cref="IBackend.TopK"/>, and the sampler's log-probabilities, share this one definition.
/// </summary>
public static class TopLogits
{
    /// <summary>Most candidates a <see cref="IBackend.TopK"/> call returns per row.</summary>
    public const int MaxK = 64;

    /// <summary>
    /// Fills <paramref name="ids"/> and <paramref name="values"/> (their common length is k) with the k largest
    /// logits, value descending and the lower id first on ties (NaN never chosen); returns log(sum(exp(logits))).
    /// Slots beyond the row's length get id -1 and -infinity.
    /// </summary>
    public static float Select(ReadOnlySpan<float> logits, Span<int> ids, Span<float> values)
    {
        int k = Math.Min(ids.Length, values.Length);
        int filled = 0;
        float max = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (l > max) max = l;
            if (float.IsNaN(l) || (filled == k && (k == 0 || l <= values[k - 1]))) continue;
            int at = filled < k ? filled++ : k - 1;
            while (at > 0 && values[at - 1] < l)
            {
                values[at] = values[at - 1];
                ids[at] = ids[at - 1];
                at--;
            }
            values[at] = l;
            ids[at] = i;
        }
        for (int j = filled; j < k; j++)
        {
            values[j] = float.NegativeInfinity;
            ids[j] = -1;
        }
        return LogSumExp(logits, max);
    }

    /// <summary>
    /// <see cref="Select"/> for each row of host logits [rows, vocab]: k results a row in
    /// <paramref name="ids"/> and <paramref name="values"/>, one log-sum-exp a row.
    /// </summary>
    public static void SelectRows(ReadOnlySpan<float> logits, int rows, int vocab, int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if ((uint)k > MaxK) throw new ArgumentOutOfRangeException(nameof(k), $"k must be in 0..{MaxK}, got {k}");
        if (logits.Length < (long)rows * vocab || ids.Length < rows * k || values.Length < rows * k || logSumExp.Length < rows)
            throw new ArgumentException("the spans are too short for rows x vocab logits and rows x k results");
        for (int r = 0; r < rows; r++)
            logSumExp[r] = Select(logits.Slice(r * vocab, vocab), ids.Slice(r * k, k), values.Slice(r * k, k));
    }

    /// <summary>
    /// log(sum(exp(logits))) given the row's largest value, NaN left out: the exponentials in float32, vectorized (a
    /// scalar exp per logit cost a CPU decode step ~0.1 ms a row at a 32k vocabulary), summed in double.
    /// </summary>
    public static float LogSumExp(ReadOnlySpan<float> logits, float max)
    {
        if (float.IsNegativeInfinity(max)) return max;
        double sum = 0;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var total = Vector256<double>.Zero;
            var top = Vector256.Create(max);
            ref float first = ref MemoryMarshal.GetReference(logits);
            for (; i + Vector256<float>.Count <= logits.Length; i += Vector256<float>.Count)
            {
                var l = Vector256.LoadUnsafe(ref first, (nuint)i);
                var e = Vector256.ConditionalSelect(Vector256.Equals(l, l), Vector256.Exp(l - top), Vector256<float>.Zero);
                var (lower, upper) = Vector256.Widen(e);
                total += lower + upper;
            }
            sum = Vector256.Sum(total);
        }
        for (; i < logits.Length; i++)
        {
            if (!float.IsNaN(logits[i])) sum += MathF.Exp(logits[i] - max);
        }
        return max + (float)Math.Log(sum);
    }
}

namespace Granary.Engine;

/// <summary>
/// Picks the next token from one row of logits: repetition penalty, then greedy or temperature with
/// top-k, top-p and min-p filtering; also the log-probabilities (log-softmax of the raw logits) of the
/// chosen token and the most likely alternatives. Reuses its scratch arrays: nothing is allocated per
/// token besides the logprob record a request asked for.
/// </summary>
public sealed class Sampler
{
    private readonly float[] _scores;
    private readonly int[] _order;
    private readonly bool[] _penalized;
    private readonly Random _shared;

    public Sampler(int vocabSize, int? seed = null)
    {
        _scores = new float[vocabSize];
        _order = new int[vocabSize];
        _penalized = new bool[vocabSize];
        _shared = seed is { } s ? new Random(s) : new Random();
    }

    /// <summary>Chooses a token for <paramref name="sequence"/>; <paramref name="logits"/> is left unchanged.</summary>
    public int Sample(Sequence sequence, ReadOnlySpan<float> logits, out GeneratedTokenLogprobs? logprobs)
    {
        var p = sequence.Sampling;
        var scores = _scores.AsSpan(0, logits.Length);
        logits.CopyTo(scores);
        if (p.RepetitionPenalty != 1f) Penalize(scores, sequence.Tokens, p.RepetitionPenalty);

        int token = p.Temperature < 1e-5f ? ArgMax(scores) : Draw(scores, p, sequence.Random ?? _shared);
        logprobs = p.Logprobs is { } top ? Logprobs(logits, token, top) : null;
        return token;
    }

    /// <summary>First index of the largest value, as torch.argmax picks.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best]) best = i;
        }
        return best;
    }

    /// <summary>Hugging Face's repetition penalty: each distinct token seen is penalized once.</summary>
    private void Penalize(Span<float> scores, ReadOnlySpan<int> seen, float penalty)
    {
        foreach (int id in seen)
        {
            if ((uint)id >= (uint)scores.Length || _penalized[id]) continue;
            _penalized[id] = true;
            scores[id] = scores[id] > 0 ? scores[id] / penalty : scores[id] * penalty;
        }
        foreach (int id in seen)
        {
            if ((uint)id < (uint)scores.Length) _penalized[id] = false;
        }
    }

    private int Draw(Span<float> scores, SamplingParams p, Random random)
    {
        float inverseTemperature = 1f / p.Temperature;
        float max = float.NegativeInfinity;
        foreach (float s in scores) max = Math.Max(max, s);

        // Probabilities in sorted order over the candidates that survive top-k.
        var order = _order.AsSpan(0, scores.Length);
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var keys = scores;
        for (int i = 0; i < keys.Length; i++) keys[i] = MathF.Exp((keys[i] - max) * inverseTemperature);
        int count = keys.Length;
        if (p.TopK > 0 && p.TopK < count) count = p.TopK;
        SortDescending(keys, order, count);

        float total = 0;
        for (int i = 0; i < count; i++) total += keys[i];
        int keep = count;
        if (p.TopP < 1f)
        {
            float cumulative = 0;
            for (int i = 0; i < count; i++)
            {
                cumulative += keys[i] / total;
                if (cumulative >= p.TopP) { keep = i + 1; break; }
            }
        }
        if (p.MinP > 0f)
        {
            float floor = p.MinP * keys[0];
            int k = 1;
            while (k < keep && keys[k] >= floor) k++;
            keep = k;
        }
        float kept = 0;
        for (int i = 0; i < keep; i++) kept += keys[i];
        double u = random.NextDouble() * kept;
        for (int i = 0; i < keep; i++)
        {
            u -= keys[i];
            if (u < 0) return order[i];
        }
        return order[keep - 1];
    }

    /// <summary>Moves the <paramref name="count"/> largest keys to the front in descending order (ties by lower index).</summary>
    private static void SortDescending(Span<float> keys, Span<int> order, int count)
    {
        if (count < keys.Length)
        {
            // Partial selection: only the top count matter, so select them before sorting.
            var threshold = SelectThreshold(keys, count);
            int write = 0;
            for (int i = 0; i < keys.Length && write < count; i++)
            {
                if (keys[i] > threshold) Swap(keys, order, write++, i);
            }
            for (int i = write; i < keys.Length && write < count; i++)
            {
                if (keys[i] == threshold) Swap(keys, order, write++, i);
            }
        }
        var head = keys[..count];
        var heads = order[..count];
        // Negated keys sort ascending = descending probability; stable on ties is not needed for sampling.
        for (int i = 0; i < head.Length; i++) head[i] = -head[i];
        head.Sort(heads);
        for (int i = 0; i < head.Length; i++) head[i] = -head[i];
    }

    private static float SelectThreshold(ReadOnlySpan<float> keys, int count)
    {
        // The count-th largest value through a copy sorted in place (the vocabulary, rarely; top-k is small).
        float[] copy = System.Buffers.ArrayPool<float>.Shared.Rent(keys.Length);
        keys.CopyTo(copy);
        var span = copy.AsSpan(0, keys.Length);
        span.Sort();
        float threshold = span[keys.Length - count];
        System.Buffers.ArrayPool<float>.Shared.Return(copy);
        return threshold;
    }

    private static void Swap(Span<float> keys, Span<int> order, int a, int b)
    {
        (keys[a], keys[b]) = (keys[b], keys[a]);
        (order[a], order[b]) = (order[b], order[a]);
    }

    /// <summary>log_softmax of the raw logits at the chosen token and the <paramref name="top"/> best.</summary>
    private static GeneratedTokenLogprobs Logprobs(ReadOnlySpan<float> logits, int token, int top)
    {
        float max = float.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        float logZ = max + (float)Math.Log(sum);

        var best = new TokenLogprob[Math.Min(top, logits.Length)];
        int filled = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (filled == best.Length && (filled == 0 || l <= best[filled - 1].Logprob)) continue;
            int at = filled < best.Length ? filled++ : filled - 1;
            while (at > 0 && best[at - 1].Logprob < l) { best[at] = best[at - 1]; at--; }
            best[at] = new TokenLogprob(i, l);
        }
        for (int i = 0; i < best.Length; i++) best[i] = best[i] with { Logprob = best[i].Logprob - logZ };
        return new GeneratedTokenLogprobs(token, logits[token] - logZ, best);
    }
}

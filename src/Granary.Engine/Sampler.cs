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
        int token;
        if (p.RepetitionPenalty != 1f)
        {
            var scores = _scores.AsSpan(0, logits.Length);
            logits.CopyTo(scores);
            Penalize(scores, sequence.Tokens, p.RepetitionPenalty);
            token = IsGreedy(p) ? ArgMax(scores) : Draw(scores, p, sequence.Random ?? _shared);
        }
        else if (IsGreedy(p)) token = ArgMax(logits);
        else
        {
            var scores = _scores.AsSpan(0, logits.Length);
            logits.CopyTo(scores);
            token = Draw(scores, p, sequence.Random ?? _shared);
        }
        logprobs = p.Logprobs is { } top ? Logprobs(logits, token, top) : null;
        return token;
    }

    /// <summary>Whether the sampling is greedy (a temperature of about zero): the row's best logit is the token.</summary>
    public static bool IsGreedy(SamplingParams p) => p.Temperature < 1e-5f;

    /// <summary>
    /// How many of the largest logits (<see cref="Granary.Compute.IBackend.TopK"/>) this sampling needs to
    /// choose exactly as <see cref="Sample(Sequence, ReadOnlySpan{float}, out GeneratedTokenLogprobs?)"/> would
    /// over the whole row, or -1 when it needs the whole row (a repetition penalty, or sampling without a
    /// top-k within <see cref="Granary.Compute.TopLogits.MaxK"/>).
    /// </summary>
    public static int CandidatesNeeded(SamplingParams p)
    {
        if (p.RepetitionPenalty != 1f) return -1;
        bool greedy = IsGreedy(p);
        if (!greedy && p.TopK <= 0) return -1;
        int needed = Math.Max(greedy ? 1 : p.TopK, p.Logprobs ?? 0);
        return needed <= Granary.Compute.TopLogits.MaxK ? needed : -1;
    }

    /// <summary>
    /// Chooses a token from the row's largest logits (value descending, as <see cref="Granary.Compute.IBackend.TopK"/>
    /// returns them) and its log-sum-exp; valid when <see cref="CandidatesNeeded"/> is at most their count.
    /// </summary>
    public int Sample(Sequence sequence, ReadOnlySpan<int> ids, ReadOnlySpan<float> values, float logSumExp, out GeneratedTokenLogprobs? logprobs)
    {
        var p = sequence.Sampling;
        int token;
        if (IsGreedy(p)) token = ids[0];
        else
        {
            int count = Math.Min(p.TopK, values.Length);
            var keys = _scores.AsSpan(0, count);
            var order = _order.AsSpan(0, count);
            float inverseTemperature = 1f / p.Temperature;
            for (int i = 0; i < count; i++)
            {
                keys[i] = MathF.Exp((values[i] - values[0]) * inverseTemperature);
                order[i] = ids[i];
            }
            token = DrawSorted(keys, order, p, sequence.Random ?? _shared);
        }
        logprobs = null;
        if (p.Logprobs is { } top)
        {
            var best = new TokenLogprob[Math.Min(top, values.Length)];
            float chosen = float.NaN;
            for (int i = 0; i < values.Length; i++)
            {
                if (ids[i] == token) chosen = values[i];
                if (i < best.Length) best[i] = new TokenLogprob(ids[i], values[i] - logSumExp);
            }
            logprobs = new GeneratedTokenLogprobs(token, chosen - logSumExp, best);
        }
        return token;
    }

    /// <summary>
    /// Advances a seeded sequence's generator past <paramref name="tokens"/> sampled tokens: every token drawn
    /// at a temperature above zero takes exactly one <see cref="Random.NextDouble"/> (<see cref="Draw"/>,
    /// <see cref="DrawSorted"/>) and greedy tokens none, so a resumed sequence draws on as the uninterrupted one would.
    /// </summary>
    internal static void SkipDraws(Sequence sequence, int tokens)
    {
        if (sequence.Random is not { } random || IsGreedy(sequence.Sampling)) return;
        for (int i = 0; i < tokens; i++) random.NextDouble();
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
        int count = scores.Length;
        if (p.TopK > 0 && p.TopK < count) count = p.TopK;
        if (count == scores.Length && p.TopP >= 1f && p.MinP <= 0f)
        {
            // Nothing to cut: one draw from the whole distribution, no sort.
            float max = float.NegativeInfinity;
            foreach (float s in scores) max = Math.Max(max, s);
            double total = 0;
            for (int i = 0; i < scores.Length; i++) total += scores[i] = MathF.Exp((scores[i] - max) * inverseTemperature);
            double u = random.NextDouble() * total;
            for (int i = 0; i < scores.Length; i++)
            {
                u -= scores[i];
                if (u < 0) return i;
            }
            return ArgMax(scores);
        }

        // The candidates that survive top-k, by logit descending (lower id first on ties), as a backend's TopK orders them.
        var order = _order.AsSpan(0, scores.Length);
        for (int i = 0; i < order.Length; i++) order[i] = i;
        SortDescending(scores, order, count);
        var keys = scores[..count];
        float top = keys[0];
        for (int i = 0; i < count; i++) keys[i] = MathF.Exp((keys[i] - top) * inverseTemperature);
        return DrawSorted(keys, order[..count], p, random);
    }

    /// <summary>Top-p, then min-p over probabilities sorted descending (unnormalized), then one draw.</summary>
    private static int DrawSorted(Span<float> keys, ReadOnlySpan<int> order, SamplingParams p, Random random)
    {
        int count = keys.Length;
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

    /// <summary>
    /// Moves the <paramref name="count"/> largest keys to the front, descending, the lower id first on ties
    /// (the order a backend's TopK gives), so that a draw picks the same token from either.
    /// </summary>
    private static void SortDescending(Span<float> keys, Span<int> order, int count)
    {
        if (count <= Granary.Compute.TopLogits.MaxK)
        {
            Span<int> ids = stackalloc int[count];
            Span<float> values = stackalloc float[count];
            Granary.Compute.TopLogits.Select(keys, ids, values);
            values.CopyTo(keys);
            ids.CopyTo(order);
            return;
        }
        // Negated keys sort ascending = descending; then each run of equal keys by id.
        for (int i = 0; i < keys.Length; i++) keys[i] = -keys[i];
        keys.Sort(order);
        for (int i = 0; i < keys.Length; i++) keys[i] = -keys[i];
        for (int start = 0; start < count;)
        {
            int end = start + 1;
            while (end < keys.Length && keys[end] == keys[start]) end++;
            if (end - start > 1) order[start..end].Sort();
            start = end;
        }
    }

    /// <summary>log_softmax of the raw logits at the chosen token and the <paramref name="top"/> best.</summary>
    private GeneratedTokenLogprobs Logprobs(ReadOnlySpan<float> logits, int token, int top)
    {
        int k = Math.Min(top, logits.Length);
        var ids = _order.AsSpan(0, k);
        var values = _scores.AsSpan(0, k);
        float logZ = Granary.Compute.TopLogits.Select(logits, ids, values);
        var best = new TokenLogprob[k];
        for (int i = 0; i < k; i++) best[i] = new TokenLogprob(ids[i], values[i] - logZ);
        return new GeneratedTokenLogprobs(token, logits[token] - logZ, best);
    }
}

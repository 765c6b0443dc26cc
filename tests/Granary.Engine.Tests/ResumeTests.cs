using Granary.Tokenizers;

namespace Granary.Engine.Tests;

/// <summary>
/// A request resumed on another replica with the tokens it had already generated (a failover mid-answer)
/// goes on exactly as the uninterrupted run: the same tokens, the same text, stop strings across the seam,
/// max_tokens counting what was generated before.
/// </summary>
public sealed class ResumeTests : IDisposable
{
    private const int Tokens = 48;
    private readonly LocalModel _model = LocalModel.Load(TestData.Stories15M, new LocalModelOptions());
    private readonly int[] _prompt;

    // Longer than a KV block, so part of it can come from the prefix cache.
    public ResumeTests() => _prompt = _model.Tokenizer.Encode("Once upon a time, Lily and Ben went to the park with their mom. They saw a big tree and a little bird. The bird");

    public void Dispose() => _model.Dispose();

    private static SamplingParams Greedy(int maxTokens = Tokens) => SamplingParams.Greedy(maxTokens) with { IgnoreEos = true };

    private Sequence Run(LlmEngine engine, SamplingParams sampling, IReadOnlyList<int>? generated = null)
    {
        var sequence = engine.Add(_prompt, sampling, generated);
        engine.RunToCompletion();
        return sequence;
    }

    /// <summary>Another replica: nothing of this request in its prefix cache, prefill in small chunks across the seam.</summary>
    private static LocalModel Replica() => LocalModel.Load(TestData.Stories15M, new LocalModelOptions { Engine = new EngineOptions { MaxBatchedTokens = 16, KvCacheBlocks = 64 } });

    /// <summary>The text a sequence holds after these output ids (what the client's stream was built from).</summary>
    private string TextAfter(ReadOnlySpan<int> ids)
    {
        var decoder = new IncrementalDecoder(_model.Tokenizer);
        var text = new System.Text.StringBuilder();
        foreach (int id in ids) text.Append(decoder.Append(id));
        return text.ToString();
    }

    [Fact]
    public void GreedyResumeGoesOnTokenForTokenAndCharacterForCharacter()
    {
        var full = Run(_model.Engine, Greedy());
        int[] ids = full.OutputIds.ToArray();
        Assert.Equal(Tokens, ids.Length);
        foreach (int k in new[] { 1, 2, 7, 16, 29, Tokens - 1 })
        {
            using var replica = Replica();
            var resumed = Run(replica.Engine, Greedy() with { Logprobs = 2 }, ids[..k]);
            Assert.Equal(k, resumed.ResumedLength);
            Assert.Equal(_prompt.Length, resumed.PromptLength);
            Assert.Equal(0, resumed.CachedTokens);
            Assert.Equal(ids, resumed.OutputIds.ToArray());
            Assert.Equal(FinishReason.Length, resumed.FinishReason);
            Assert.Equal(full.Text, resumed.Text);
            // What the client had, then what the resumed run adds after it: the uninterrupted text.
            string before = TextAfter(ids.AsSpan(0, k));
            Assert.StartsWith(before, resumed.Text, StringComparison.Ordinal);
            Assert.Equal(full.Text, before + resumed.TextRange(before.Length, resumed.TextLength));
            // Logprobs stay aligned with the output: placeholders for the resumed tokens, real ones after.
            var logprobs = resumed.Logprobs!;
            Assert.Equal(Tokens, logprobs.Count);
            for (int i = 0; i < Tokens; i++)
            {
                Assert.Equal(ids[i], logprobs[i].TokenId);
                Assert.Equal(i < k, float.IsNaN(logprobs[i].Logprob));
                if (i >= k) Assert.Equal(ids[i], logprobs[i].Top[0].TokenId);
            }
        }
    }

    [Fact]
    public void SeededSamplingResumesWithTheSameDraws()
    {
        var sampling = new SamplingParams { Temperature = 0.9f, TopK = 40, Seed = 1234, MaxTokens = 32, IgnoreEos = true };
        var full = Run(_model.Engine, sampling);
        int[] ids = full.OutputIds.ToArray();
        using var replica = Replica();
        var resumed = Run(replica.Engine, sampling, ids[..11]);
        Assert.Equal(ids, resumed.OutputIds.ToArray());
        Assert.Equal(full.Text, resumed.Text);
    }

    [Fact]
    public void StopStringAcrossTheSeamStopsWhereTheUninterruptedRunStops()
    {
        int[] ids = Run(_model.Engine, Greedy()).OutputIds.ToArray();
        string text = TextAfter(ids);
        int tested = 0;
        for (int k = 3; k < Tokens - 3 && tested < 3; k += 5)
        {
            // A stop string of two characters before the seam and three after, found nowhere earlier.
            int seam = TextAfter(ids.AsSpan(0, k)).Length;
            if (seam < 2 || seam + 3 > text.Length) continue;
            string stop = text.Substring(seam - 2, 5);
            if (text.IndexOf(stop, StringComparison.Ordinal) != seam - 2) continue;
            tested++;
            var sampling = Greedy() with { Stop = [stop] };
            var uninterrupted = Run(_model.Engine, sampling);
            Assert.Equal(FinishReason.Stop, uninterrupted.FinishReason);
            Assert.Equal(text[..(seam - 2)], uninterrupted.Text);
            using var replica = Replica();
            var resumed = Run(replica.Engine, sampling, ids[..k]);
            Assert.Equal(FinishReason.Stop, resumed.FinishReason);
            Assert.Equal(uninterrupted.OutputIds.ToArray(), resumed.OutputIds.ToArray());
            Assert.Equal(uninterrupted.Text, resumed.Text);
        }
        Assert.True(tested > 0, "no cut point with a stop string unique in the text");
    }

    [Fact]
    public void MaxTokensCountsTheResumedTokens()
    {
        int[] ids = Run(_model.Engine, Greedy(20)).OutputIds.ToArray();
        var resumed = Run(_model.Engine, Greedy(20), ids[..15]);
        Assert.Equal(20, resumed.OutputLength);
        Assert.Equal(ids, resumed.OutputIds.ToArray());
        Assert.Equal(FinishReason.Length, resumed.FinishReason);

        var last = Run(_model.Engine, Greedy(20), ids[..19]);
        Assert.Equal(ids, last.OutputIds.ToArray());

        var e = Assert.Throws<ArgumentException>(() => _model.Engine.Add(_prompt, Greedy(20), ids));
        Assert.Contains("max_tokens", e.Message);
        Assert.False(_model.Engine.HasWork);
    }

    [Fact]
    public void ThePromptStillComesFromThePrefixCache()
    {
        var engine = _model.Engine;
        int[] ids = Run(engine, Greedy()).OutputIds.ToArray();
        var resumed = Run(engine, Greedy(), ids[..9]);
        Assert.True(_prompt.Length > engine.Blocks.BlockSize);
        Assert.InRange(resumed.CachedTokens, _prompt.Length / engine.Blocks.BlockSize * engine.Blocks.BlockSize, _prompt.Length);
        Assert.Equal(ids, resumed.OutputIds.ToArray());
    }

    [Fact]
    public void BadResumedOutputIsRejected()
    {
        var engine = _model.Engine;
        int vocab = _model.Config.VocabSize;
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => engine.Add(_prompt, Greedy(), [100, vocab])).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => engine.Add(_prompt, Greedy(), [-1])).Message);
        Assert.Contains("max_tokens", Assert.Throws<ArgumentException>(() => engine.Add(_prompt, Greedy(3), [100, 101, 102])).Message);
        int room = engine.MaxModelLength - _prompt.Length;
        var tooLong = Enumerable.Repeat(100, room).ToArray();
        Assert.Contains("context", Assert.Throws<ArgumentException>(() => engine.Add(_prompt, Greedy(room + 10), tooLong)).Message);
        // Tokens that ended the output already: the request finished, there is nothing to resume.
        int eos = _model.EosTokenIds[0];
        Assert.Contains("stop token", Assert.Throws<ArgumentException>(() => engine.Add(_prompt, SamplingParams.Greedy(Tokens), [100, eos])).Message);
        Assert.Contains("stop token", Assert.Throws<ArgumentException>(() => engine.Add(_prompt, Greedy() with { StopTokenIds = [101] }, [100, 101, 102])).Message);
        int[] ids = Run(engine, Greedy()).OutputIds.ToArray();
        string stop = TextAfter(ids.AsSpan(0, 10))[^4..];
        Assert.Contains("stop string", Assert.Throws<ArgumentException>(() => engine.Add(_prompt, Greedy() with { Stop = [stop] }, ids[..12])).Message);
        Assert.False(engine.HasWork);

        // One past the limit is rejected; at it, the sequence still has room for one token.
        var fits = Run(engine, Greedy(room + 10), tooLong[..^1]);
        Assert.Equal(room, fits.OutputLength);
        Assert.Equal(FinishReason.Length, fits.FinishReason);
    }
}

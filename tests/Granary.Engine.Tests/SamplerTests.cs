using Granary.Compute;
using Granary.Engine;

namespace Granary.Engine.Tests;

/// <summary>
/// The sampler over a whole row of logits, and over only the largest logits (what a GPU sends back):
/// the same choices and log-probabilities whenever the candidates suffice; the filters do what they say.
/// </summary>
public class SamplerTests
{
    private const int Vocab = 3000;

    private static float[] Logits(int seed)
    {
        var random = new Random(seed);
        var logits = new float[Vocab];
        for (int i = 0; i < Vocab; i++) logits[i] = (float)Math.Round(random.NextDouble() * 12 - 6, 1); // exact ties on purpose
        return logits;
    }

    private static Sequence Sequence(SamplingParams sampling) => new(1, [1, 2, 3], sampling, null);

    public static TheoryData<SamplingParams> CandidateParams() =>
    [
        SamplingParams.Greedy(8),
        SamplingParams.Greedy(8) with { Logprobs = 5 },
        new SamplingParams { Temperature = 0.8f, TopK = 40, Seed = 7, MaxTokens = 8 },
        new SamplingParams { Temperature = 1.3f, TopK = 64, TopP = 0.9f, Seed = 11, Logprobs = 3, MaxTokens = 8 },
        new SamplingParams { Temperature = 0.7f, TopK = 20, MinP = 0.05f, Seed = 3, MaxTokens = 8 },
    ];

    [Theory]
    [MemberData(nameof(CandidateParams))]
    public void TheLargestLogitsChooseAsTheWholeRowDoes(SamplingParams sampling)
    {
        int k = Sampler.CandidatesNeeded(sampling);
        Assert.InRange(k, 1, TopLogits.MaxK);
        var whole = new Sampler(Vocab);
        var fromCandidates = new Sampler(Vocab);
        var a = Sequence(sampling);
        var b = Sequence(sampling);
        var ids = new int[k];
        var values = new float[k];
        for (int step = 0; step < 50; step++)
        {
            float[] logits = Logits(step);
            int expected = whole.Sample(a, logits, out var expectedLogprobs);
            float logZ = TopLogits.Select(logits, ids, values);
            int actual = fromCandidates.Sample(b, ids, values, logZ, out var actualLogprobs);
            Assert.Equal(expected, actual);
            if (expectedLogprobs is null) { Assert.Null(actualLogprobs); continue; }
            Assert.Equal(expectedLogprobs.Logprob, actualLogprobs!.Logprob, 1e-6f);
            Assert.Equal(expectedLogprobs.Top.Select(t => t.TokenId), actualLogprobs.Top.Select(t => t.TokenId));
            Assert.Equal(expectedLogprobs.Top.Select(t => t.Logprob), actualLogprobs.Top.Select(t => t.Logprob));
        }
    }

    [Fact]
    public void WholeRowIsNeededForPenaltiesAndUnboundedSampling()
    {
        Assert.Equal(-1, Sampler.CandidatesNeeded(SamplingParams.Greedy(4) with { RepetitionPenalty = 1.2f }));
        Assert.Equal(-1, Sampler.CandidatesNeeded(new SamplingParams { Temperature = 1f }));
        Assert.Equal(-1, Sampler.CandidatesNeeded(new SamplingParams { Temperature = 1f, TopK = TopLogits.MaxK + 1 }));
        Assert.Equal(20, Sampler.CandidatesNeeded(SamplingParams.Greedy(4) with { Logprobs = 20 }));
    }

    [Fact]
    public void GreedyTakesTheFirstLargestAndFiltersNarrowToIt()
    {
        var logits = new float[10];
        logits[3] = 5; logits[7] = 5; logits[1] = 4.9f;
        var sampler = new Sampler(10, seed: 1);
        Assert.Equal(3, sampler.Sample(Sequence(SamplingParams.Greedy(1)), logits, out _));
        for (int i = 0; i < 20; i++)
        {
            Assert.Contains(sampler.Sample(Sequence(new SamplingParams { Temperature = 1, TopK = 2 }), logits, out _), new[] { 3, 7 });
            Assert.Contains(sampler.Sample(Sequence(new SamplingParams { Temperature = 5, TopP = 0.01f }), logits, out _), new[] { 3, 7 });
            Assert.Contains(sampler.Sample(Sequence(new SamplingParams { Temperature = 5, MinP = 1f }), logits, out _), new[] { 3, 7 });
        }
    }

    [Fact]
    public void TemperatureSamplingFollowsTheSoftmax()
    {
        var logits = new float[] { 0, MathF.Log(2), MathF.Log(7), float.NegativeInfinity };
        var sampler = new Sampler(4);
        var counts = new int[4];
        var sequence = Sequence(new SamplingParams { Temperature = 1, Seed = 42 });
        for (int i = 0; i < 10000; i++) counts[sampler.Sample(sequence, logits, out _)]++;
        Assert.InRange(counts[0], 900, 1100);
        Assert.InRange(counts[1], 1850, 2150);
        Assert.InRange(counts[2], 6800, 7200);
        Assert.Equal(0, counts[3]);
    }

    [Fact]
    public void RepetitionPenaltySteersAwayFromSeenTokens()
    {
        var logits = new float[10];
        logits[2] = 3; logits[5] = 2.8f;
        var sampler = new Sampler(10);
        // Token 2 is in the prompt ([1, 2, 3]): divided by 1.5 it falls below token 5.
        Assert.Equal(5, sampler.Sample(Sequence(SamplingParams.Greedy(1) with { RepetitionPenalty = 1.5f }), logits, out _));
        Assert.Equal(2, sampler.Sample(Sequence(SamplingParams.Greedy(1)), logits, out _));
    }

    [Fact]
    public void SameSeedSameDraws()
    {
        var sampling = new SamplingParams { Temperature = 1, Seed = 99 };
        var logits = Logits(5);
        var a = Sequence(sampling);
        var b = Sequence(sampling);
        var sampler = new Sampler(Vocab);
        for (int i = 0; i < 20; i++) Assert.Equal(sampler.Sample(a, logits, out _), sampler.Sample(b, logits, out _));
    }

    [Fact]
    public void TopLogitsBreakTiesByIdSkipNaNAndPadShortRows()
    {
        float[] row = [1, float.NaN, 3, 3, -2, float.NegativeInfinity];
        var ids = new int[8];
        var values = new float[8];
        float logZ = TopLogits.Select(row, ids, values);
        Assert.Equal(new[] { 2, 3, 0, 4, 5, -1, -1, -1 }, ids);
        Assert.Equal(3 + MathF.Log(2 + MathF.Exp(-2) + MathF.Exp(-5)), logZ, 1e-5f);
        Assert.Equal(float.NegativeInfinity, values[5]);
    }
}

namespace Granary.Engine.Tests;

/// <summary>
/// Async scheduling on real models (the fixtures and stories15M on the CPU backend): a batch of requests of different
/// lengths, some finishing early (max_tokens, a stop token, a stop string) while others go on, seeded sampling,
/// logprobs and a repetition penalty, gives exactly what it gives without.
/// </summary>
public class AsyncSchedulingModelTests
{
    private const int MaxTokens = 16;

    private static LocalModel Load(string directory, bool async, bool tight = false) => LocalModel.Load(directory, new LocalModelOptions
    {
        Engine = tight
            ? new EngineOptions { KvCacheBlocks = 24, BlockSize = 4, MaxBatchedTokens = 16, AsyncScheduling = async }
            : new EngineOptions { KvCacheBlocks = 128, MaxSequences = 8, AsyncScheduling = async },
    });

    /// <summary>Four prompts of different lengths: the fixture's own, or stories15M's from text.</summary>
    private static int[][] Prompts(string directory, LocalModel model) => directory == TestData.Stories15M
        ? [.. new[] { "Once upon a time", "Lily and Ben went to the park to play with a big red ball", "The cat", "One day, a little bird" }.Select(t => model.Tokenizer.Encode(t, addSpecialTokens: true))]
        : [.. TestData.Reference(Path.GetFileName(directory)).GetProperty("prompts").EnumerateArray().Select(p => TestData.Ints(p.GetProperty("ids")))];

    /// <summary>
    /// The requests, chosen from a greedy run without async scheduling so that the stops happen mid-output: a stop id
    /// and a stop string taken from what the prompts generate.
    /// </summary>
    private static SamplingParams[] Requests(string directory, int[][] prompts)
    {
        using var model = Load(directory, async: false);
        var greedy = prompts.Select(p => model.Engine.Add(p, SamplingParams.Greedy(MaxTokens) with { IgnoreEos = true })).ToList();
        model.Engine.RunToCompletion();
        int stopId = greedy[2].OutputIds[5];
        string text = greedy[3].Text;
        string stop = text.Substring(text.Length / 2, Math.Min(3, text.Length - text.Length / 2));
        Assert.False(string.IsNullOrEmpty(stop), "the greedy output has no text to stop on");
        var plain = SamplingParams.Greedy(MaxTokens) with { IgnoreEos = true };
        return
        [
            plain,
            plain with { MaxTokens = 4 },
            plain with { StopTokenIds = [stopId] },
            plain with { Stop = [stop] },
            new SamplingParams { Temperature = 0.8f, TopK = 20, Seed = 7, MaxTokens = 12, Logprobs = 2, IgnoreEos = true },
            new SamplingParams { Temperature = 1f, Seed = 11, MaxTokens = 12, IgnoreEos = true },
            plain with { RepetitionPenalty = 1.3f, MaxTokens = 10, Logprobs = 3 },
            SamplingParams.Greedy(MaxTokens),
        ];
    }

    /// <summary>Half the requests at once, the others while a step is in flight; every step's advanced sequences.</summary>
    private static (List<Sequence> Sequences, List<AsyncSchedulingTests.Advanced[]> Steps, long Preemptions, long FedSteps) Run(string directory, bool async, bool tight, int[][] prompts, SamplingParams[] requests)
    {
        using var model = Load(directory, async, tight);
        var engine = model.Engine;
        var sequences = new List<Sequence>();
        var steps = new List<AsyncSchedulingTests.Advanced[]>();
        for (int i = 0; i < requests.Length; i++)
        {
            sequences.Add(engine.Add(prompts[i % prompts.Length], requests[i]));
            if (i == requests.Length / 2)
            {
                for (int s = 0; s < 3; s++) steps.Add(AsyncSchedulingTests.Advanced.Of(engine.Step()));
            }
        }
        while (engine.HasWork) steps.Add(AsyncSchedulingTests.Advanced.Of(engine.Step()));
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
        return (sequences, steps, engine.Scheduler.Preemptions, engine.FedSteps);
    }

    /// <summary>Only the greedy requests (stops, max_tokens and logprobs among them): every continuation may take its tokens on the backend.</summary>
    private static SamplingParams[] GreedyRequests(string directory, int[][] prompts)
    {
        var all = Requests(directory, prompts);
        return [all[0], all[1], all[2], all[3], all[0] with { Logprobs = 2, MaxTokens = 12 }, all[7], all[1] with { MaxTokens = 9 }, all[2]];
    }

    private static void AssertSameWithAndWithout(string directory, bool tight, bool greedyOnly = false)
    {
        int[][] prompts;
        using (var model = Load(directory, async: false)) prompts = Prompts(directory, model);
        var requests = greedyOnly ? GreedyRequests(directory, prompts) : Requests(directory, prompts);
        var (expected, _, _, _) = Run(directory, async: false, tight, prompts, requests);
        var (actual, steps, preemptions, fed) = Run(directory, async: true, tight, prompts, requests);
        if (tight) Assert.True(preemptions > 0, "the small cache should have forced a preemption");
        // Greedy batches feed each continuation's tokens on the backend (the CPU's too); a sampled sequence in the batch stops that.
        if (greedyOnly) Assert.True(fed > 5, $"only {fed} steps were fed");

        Assert.Equal(4, expected[1].OutputLength);
        Assert.Equal(FinishReason.Stop, expected[2].FinishReason);
        Assert.Equal(requests[2].StopTokenIds[0], expected[2].OutputIds[^1]);
        Assert.Equal(FinishReason.Stop, expected[3].FinishReason);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].OutputIds.ToArray(), actual[i].OutputIds.ToArray());
            Assert.Equal(expected[i].Text, actual[i].Text);
            Assert.Equal(expected[i].FinishReason, actual[i].FinishReason);
            if (expected[i].Logprobs is { } logprobs)
            {
                // The same tokens; the values within rounding, as the steps batch the sequences differently.
                var other = actual[i].Logprobs!;
                Assert.Equal(logprobs.Select(l => l.TokenId), other.Select(l => l.TokenId));
                for (int t = 0; t < logprobs.Count; t++)
                {
                    Assert.InRange(other[t].Logprob, logprobs[t].Logprob - 1e-3f, logprobs[t].Logprob + 1e-3f);
                    Assert.Equal(logprobs[t].Top.Select(a => a.TokenId), other[t].Top.Select(a => a.TokenId));
                }
            }
        }
        AsyncSchedulingTests.AssertNothingAfterFinish(actual, steps);
    }

    [Theory]
    [MemberData(nameof(TestData.Fixtures), MemberType = typeof(TestData))]
    public void FixtureTokensAreTheSameWithAndWithout(string fixture) => AssertSameWithAndWithout(TestData.Fixture(fixture), tight: false);

    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("qwen2-tiny")]
    public void FixtureTokensAreTheSameWithChunkedPrefillAndPreemption(string fixture) => AssertSameWithAndWithout(TestData.Fixture(fixture), tight: true);

    [Fact]
    public void Stories15MTokensAreTheSameWithAndWithout() => AssertSameWithAndWithout(TestData.Stories15M, tight: false);

    [Theory]
    [MemberData(nameof(TestData.Fixtures), MemberType = typeof(TestData))]
    public void FixtureGreedyTokensFedOnTheBackendAreTheSame(string fixture) => AssertSameWithAndWithout(TestData.Fixture(fixture), tight: false, greedyOnly: true);

    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("qwen2-tiny")]
    public void FixtureGreedyTokensFedOnTheBackendAreTheSameWithChunkedPrefillAndPreemption(string fixture) => AssertSameWithAndWithout(TestData.Fixture(fixture), tight: true, greedyOnly: true);

    [Fact]
    public void Stories15MGreedyTokensFedOnTheBackendAreTheSame() => AssertSameWithAndWithout(TestData.Stories15M, tight: false, greedyOnly: true);
}

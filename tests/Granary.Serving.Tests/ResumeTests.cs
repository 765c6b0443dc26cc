using Granary.Engine;

namespace Granary.Serving.Tests;

/// <summary>
/// A streamed request cut after some events and resumed (as a gateway does when the silo answering it dies)
/// produces exactly the events the uninterrupted stream would have gone on with.
/// </summary>
[Collection(Stories15MCollection.Name)]
public sealed class ResumeTests(Stories15MServer server)
{
    private AsyncEngine Engine => ((LocalGenerationService)server.Server.Service).Engine;

    private int[] Prompt => server.Model.Tokenizer.Encode("Once upon a time, Lily and Ben went to the park. They");

    private static async Task<List<GenerationEvent>> RunAsync(AsyncEngine engine, GenerationRequest request)
    {
        using var handle = engine.Submit(request);
        var events = new List<GenerationEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var e in handle.Events.ReadAllAsync(timeout.Token)) events.Add(e);
        return events;
    }

    private static string TextOf(IEnumerable<GenerationEvent> events) => string.Concat(events.Select(e => e.Text));

    private static int[] IdsOf(IEnumerable<GenerationEvent> events) => events.SelectMany(e => e.TokenIds).ToArray();

    /// <summary>Where the client stood after the given events of one choice.</summary>
    private static ChoiceResume Cut(int index, IReadOnlyList<GenerationEvent> events, int count) =>
        new(index, IdsOf(events.Take(count)), events.Take(count).Sum(e => e.Text.Length), Finished: false);

    [Theory]
    [InlineData(null, null)]
    [InlineData("@@@", 2)] // a stop string holds back the tail of the text: the client got fewer characters than were decoded
    [InlineData("later", 1)] // a stop string taken from the text, so the answer ends on it
    public async Task ResumedStreamContinuesTheUninterruptedText(string? stop, int? logprobs)
    {
        var sampling = SamplingParams.Greedy(40) with { IgnoreEos = true, Logprobs = logprobs };
        if (stop == "later")
        {
            // Six characters from late in the greedy text that appear nowhere before.
            string text = TextOf(await RunAsync(Engine, new GenerationRequest { Prompts = [Prompt], Sampling = sampling }));
            int at = text.Length * 3 / 4;
            while (at + 6 < text.Length && text.IndexOf(text.Substring(at, 6), StringComparison.Ordinal) != at) at++;
            Assert.True(at + 6 < text.Length, "no unique stop string in the text");
            stop = text.Substring(at, 6);
        }
        if (stop is not null) sampling = sampling with { Stop = [stop] };
        var request = new GenerationRequest { Prompts = [Prompt], Sampling = sampling, Stream = true };
        var full = await RunAsync(Engine, request);
        Assert.All(full, e => Assert.Null(e.Error));
        Assert.True(full.Count > 6, $"only {full.Count} events");
        var last = full[^1];
        Assert.Equal(stop == "@@@" || stop is null ? FinishReason.Length : FinishReason.Stop, last.FinishReason);

        foreach (int cut in new[] { 1, 2, full.Count / 2, full.Count - 1 })
        {
            var resume = Cut(0, full, cut);
            if (stop == "@@@") Assert.True(resume.SentChars < server.Model.Tokenizer.Decode(resume.GeneratedIds).Length, "the client should be behind the decoded text");
            var resumed = await RunAsync(Engine, request with { Resume = [resume] });
            Assert.All(resumed, e => Assert.Null(e.Error));
            Assert.Equal(TextOf(full), TextOf(full.Take(cut)) + TextOf(resumed));
            Assert.Equal(IdsOf(full), IdsOf(full.Take(cut)).Concat(IdsOf(resumed)));
            Assert.Equal(last.FinishReason, resumed[^1].FinishReason);
            Assert.Equal(last.CompletionTokens, resumed[^1].CompletionTokens);
            Assert.Equal(Prompt.Length, resumed[^1].PromptTokens);
            Assert.All(resumed.Take(resumed.Count - 1), e => Assert.Null(e.FinishReason));
            foreach (var e in resumed)
            {
                // Logprobs only of the new tokens, never the resumed placeholders.
                if (logprobs is null) Assert.Null(e.Logprobs);
                else Assert.Equal(e.TokenIds, e.Logprobs!.Select(l => l.TokenId));
                Assert.All(e.Logprobs ?? [], l => Assert.False(float.IsNaN(l.Logprob)));
            }
            // The client's logprobs of the whole answer: the same as the uninterrupted stream's.
            if (logprobs is not null)
                Assert.Equal(full.SelectMany(e => e.Logprobs!).Select(l => l.Logprob), full.Take(cut).Concat(resumed).SelectMany(e => e.Logprobs!).Select(l => l.Logprob), new ToleranceComparer(1e-4f));
        }
    }

    [Fact]
    public async Task AFinishedChoiceIsNotRun()
    {
        var request = new GenerationRequest { Prompts = [Prompt], Sampling = SamplingParams.Greedy(12), Stream = true };
        var full = await RunAsync(Engine, request);
        long prompt = Engine.Metrics.PromptTokensTotal, generated = Engine.Metrics.GenerationTokensTotal;
        var resumed = await RunAsync(Engine, request with { Resume = [Cut(0, full, full.Count) with { Finished = true }] });
        Assert.Empty(resumed);
        Assert.Equal(prompt, Engine.Metrics.PromptTokensTotal);
        Assert.Equal(generated, Engine.Metrics.GenerationTokensTotal);
        Assert.Equal(0, Engine.Metrics.RunningSequences);
    }

    [Fact]
    public async Task TwoChoicesOneFinishedOneResumed()
    {
        // Seeded sampling, so the two choices differ; a resumed choice draws on as it would have.
        var sampling = new SamplingParams { Temperature = 0.8f, TopK = 40, Seed = 42, MaxTokens = 30, IgnoreEos = true };
        var request = new GenerationRequest { Prompts = [Prompt], Sampling = sampling, N = 2, Stream = true };
        var full = await RunAsync(Engine, request);
        var first = full.Where(e => e.Index == 0).ToList();
        var second = full.Where(e => e.Index == 1).ToList();
        Assert.NotEqual(TextOf(first), TextOf(second));
        Assert.True(second.Count > 4);
        long prompt = Engine.Metrics.PromptTokensTotal;

        var resumed = await RunAsync(Engine, request with { Resume = [Cut(1, second, 4), Cut(0, first, first.Count) with { Finished = true }] });
        Assert.All(resumed, e => Assert.Equal(1, e.Index));
        Assert.Equal(TextOf(second), TextOf(second.Take(4)) + TextOf(resumed));
        Assert.Equal(IdsOf(second), IdsOf(second.Take(4)).Concat(IdsOf(resumed)));
        Assert.Equal(30, resumed[^1].CompletionTokens);
        Assert.Equal(FinishReason.Length, resumed[^1].FinishReason);
        Assert.Equal(prompt + Prompt.Length, Engine.Metrics.PromptTokensTotal); // the resumed choice's prompt counts, the finished one's not
    }

    [Fact]
    public async Task BadResumeStateIsRejected()
    {
        var request = new GenerationRequest { Prompts = [Prompt], Sampling = SamplingParams.Greedy(12) with { IgnoreEos = true }, Stream = true };
        var full = await RunAsync(Engine, request);
        var resume = Cut(0, full, 3);
        int chars = TextOf(full.Take(3)).Length;

        // More characters sent than the generated tokens decode to: a bad request, nothing runs.
        var tooFar = await RunAsync(Engine, request with { Resume = [resume with { SentChars = chars + 40 }] });
        var error = Assert.Single(tooFar);
        Assert.True(error.IsBadRequest);
        Assert.Contains("sent_chars", error.Error);
        Assert.Contains("choice 0", error.Error);

        // Every token generated already: the choice finished.
        var done = await RunAsync(Engine, request with { Resume = [Cut(0, full, full.Count)] });
        Assert.True(Assert.Single(done).IsBadRequest);
        Assert.Contains("max_tokens", done[0].Error);

        Assert.Throws<ArgumentException>(() => Engine.Submit(request with { Resume = [resume with { Index = 1 }] }));
        Assert.Throws<ArgumentException>(() => Engine.Submit(request with { Resume = [resume, resume] }));
        Assert.Throws<ArgumentException>(() => Engine.Submit(request with { Resume = [resume with { SentChars = -1 }] }));
        await TestServer.EventuallyAsync(() => Task.FromResult(Engine.Metrics.RunningSequences == 0 && Engine.Metrics.KvCacheUsedBlocks == 0), "the engine to be idle");
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}

namespace Granary.Engine.Tests;

/// <summary>
/// Async scheduling behind the serving loop (<see cref="AsyncEngine"/>, stories15M on the CPU backend): the streamed
/// events carry exactly the tokens and text of a run without it, nothing follows a choice's last event, and a request
/// cancelled mid-stream ends there while the others go on.
/// </summary>
public class AsyncSchedulingServingTests
{
    private static LocalModel Load(bool async) =>
        LocalModel.Load(TestData.Stories15M, new LocalModelOptions { Engine = new EngineOptions { KvCacheBlocks = 128, MaxSequences = 8, AsyncScheduling = async } });

    private static readonly string[] Prompts = ["Once upon a time", "Lily and Ben went to the park to play with a big red ball", "The cat", "One day, a little bird"];

    /// <summary>Every event of a request, in order, once its stream completes.</summary>
    private static async Task<List<GenerationEvent>> ReadAll(GenerationHandle handle)
    {
        var events = new List<GenerationEvent>();
        await foreach (var e in handle.Events.ReadAllAsync()) events.Add(e);
        return events;
    }

    [Fact]
    public async Task StreamsCarryTheSameTokensAndNothingAfterTheLastEvent()
    {
        using var reference = Load(async: false);
        var prompts = Prompts.Select(p => reference.Tokenizer.Encode(p, addSpecialTokens: true)).ToArray();
        var plain = SamplingParams.Greedy(24) with { IgnoreEos = true };
        var greedy = prompts.Select(p => reference.Engine.Add(p, plain)).ToList();
        reference.Engine.RunToCompletion();
        string text = greedy[3].Text;
        var requests = new[]
        {
            plain,
            plain with { MaxTokens = 5 },
            plain with { StopTokenIds = [greedy[2].OutputIds[6]] },
            plain with { Stop = [text.Substring(text.Length / 2, 3)] },
        };
        var expected = prompts.Select((p, i) => reference.Engine.Add(p, requests[i])).ToList();
        reference.Engine.RunToCompletion();

        using var model = Load(async: true);
        using var engine = new AsyncEngine(model.Engine);
        var handles = prompts.Select((p, i) => engine.Submit(new GenerationRequest { Prompts = [p], Sampling = requests[i], Stream = true })).ToList();
        var results = await Task.WhenAll(handles.Select(ReadAll)).WaitAsync(TimeSpan.FromMinutes(2));
        for (int i = 0; i < prompts.Length; i++)
        {
            var events = results[i];
            Assert.All(events, e => Assert.Null(e.Error));
            // One finish, on the last event: nothing is sent after it.
            Assert.Equal(expected[i].FinishReason, events[^1].FinishReason);
            Assert.All(events[..^1], e => Assert.Null(e.FinishReason));
            Assert.Equal(expected[i].OutputIds.ToArray(), events.SelectMany(e => e.TokenIds).ToArray());
            Assert.Equal(expected[i].Text, string.Concat(events.Select(e => e.Text)));
            Assert.Equal(expected[i].OutputLength, events[^1].CompletionTokens);
        }
        Assert.Equal(FinishReason.Stop, expected[2].FinishReason);
        Assert.Equal(FinishReason.Stop, expected[3].FinishReason);
        Assert.Equal(5, expected[1].OutputLength);
    }

    [Fact]
    public async Task SeededChoicesAreTheSameWithAndWithout()
    {
        async Task<int[][]> Choices(bool async)
        {
            using var model = Load(async);
            using var engine = new AsyncEngine(model.Engine);
            var prompts = Prompts.Take(2).Select(p => model.Tokenizer.Encode(p, addSpecialTokens: true)).ToList();
            // Two prompts, three choices each (seeds 5, 6 and 7), streamed; one draws from the top 40, the others from all.
            var sampling = new SamplingParams { Temperature = 0.9f, Seed = 5, MaxTokens = 20, IgnoreEos = true };
            var handles = new[]
            {
                engine.Submit(new GenerationRequest { Prompts = prompts, Sampling = sampling, N = 3, Stream = true }),
                engine.Submit(new GenerationRequest { Prompts = [prompts[0]], Sampling = sampling with { TopK = 40, Logprobs = 1 }, Stream = true }),
            };
            var events = (await Task.WhenAll(handles.Select(ReadAll)).WaitAsync(TimeSpan.FromMinutes(2))).SelectMany((e, r) => e.Select(x => (Request: r, Event: x)));
            return [.. events.GroupBy(e => (e.Request, e.Event.Index)).OrderBy(g => g.Key).Select(g => g.SelectMany(e => e.Event.TokenIds).ToArray())];
        }

        var expected = await Choices(async: false);
        var actual = await Choices(async: true);
        Assert.Equal(7, expected.Length);
        Assert.All(expected, tokens => Assert.Equal(20, tokens.Length));
        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task ARequestCancelledMidStreamEndsThereAndTheOthersGoOn()
    {
        using var reference = Load(async: false);
        var prompts = Prompts.Select(p => reference.Tokenizer.Encode(p, addSpecialTokens: true)).ToArray();
        var sampling = SamplingParams.Greedy(40) with { IgnoreEos = true };
        var expected = reference.Engine.Add(prompts[1], sampling);
        reference.Engine.RunToCompletion();

        using var model = Load(async: true);
        using var engine = new AsyncEngine(model.Engine);
        var cancelled = engine.Submit(new GenerationRequest { Prompts = [prompts[0]], Sampling = SamplingParams.Greedy(200) with { IgnoreEos = true }, Stream = true });
        var other = engine.Submit(new GenerationRequest { Prompts = [prompts[1]], Sampling = sampling, Stream = true });
        var otherEvents = ReadAll(other);

        int tokens = 0;
        await foreach (var e in cancelled.Events.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token))
        {
            Assert.Null(e.FinishReason);
            tokens += e.TokenIds.Length;
            if (tokens >= 3) break;
        }
        cancelled.Cancel();
        // What was written before the abort reached the engine thread may still come; then the stream completes without a finish.
        var rest = await ReadAll(cancelled).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.All(rest, e => Assert.Null(e.FinishReason));
        Assert.True(tokens + rest.Sum(e => e.TokenIds.Length) < 200);

        var events = await otherEvents.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(expected.OutputIds.ToArray(), events.SelectMany(e => e.TokenIds).ToArray());
        Assert.Equal(FinishReason.Length, events[^1].FinishReason);

        // The aborted sequence's blocks come back (the gauges follow each step of the engine thread).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((engine.Metrics.KvCacheUsedBlocks > 0 || engine.Metrics.RunningSequences > 0) && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(10);
        Assert.Equal(0, engine.Metrics.KvCacheUsedBlocks);
        Assert.Equal(1, engine.Metrics.AbortedSequences);
    }
}

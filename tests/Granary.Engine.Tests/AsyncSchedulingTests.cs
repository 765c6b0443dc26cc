namespace Granary.Engine.Tests;

/// <summary>Async scheduling in the step loop, over an executor that counts its launches.</summary>
public class AsyncSchedulingTests
{
    internal static LlmEngine Engine(CountingExecutor executor, bool async, int blocks = 64, int maxBatchedTokens = 512) =>
        new(executor, null, [12], new EngineOptions { KvCacheBlocks = blocks, BlockSize = 4, MaxBatchedTokens = maxBatchedTokens, AsyncScheduling = async });

    [Fact]
    public void TheNextStepIsLaunchedBeforeTheLastStepsTokenIsAppended()
    {
        var executor = new CountingExecutor();
        using var engine = Engine(executor, async: true);
        var sequence = engine.Add([1, 2, 3], SamplingParams.Greedy(6) with { IgnoreEos = true });
        var outputAtLaunch = new List<int>();
        executor.Launched = _ => outputAtLaunch.Add(sequence.OutputLength);

        var advanced = engine.Step();
        // The prefill ran and the first decode step is launched, but the prefill's token is appended only now.
        Assert.Equal(2, executor.Launches);
        Assert.Equal(1, sequence.OutputLength);
        Assert.Same(sequence, Assert.Single(advanced));
        Assert.True(engine.HasWork);
        Assert.Throws<InvalidOperationException>(() => engine.ReadLogits(0, new float[executor.VocabSize]));

        engine.RunToCompletion();
        // Step n+1 was launched each time before step n's token was appended; none after the last (max_tokens).
        Assert.Equal([0, 0, 1, 2, 3, 4], outputAtLaunch);
        Assert.Equal(6, sequence.OutputLength);
        Assert.Equal(FinishReason.Length, sequence.FinishReason);
        Assert.False(engine.HasWork);
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
    }

    [Fact]
    public void AWaitingSequenceWithNoRoomLeavesTheStepsOverlapping()
    {
        var executor = new CountingExecutor();
        // Two blocks of four: the first sequence (5 + 3 tokens) holds both, so the second waits until it is done.
        using var engine = Engine(executor, async: true, blocks: 2);
        var first = engine.Add([1, 2, 3, 4, 5], SamplingParams.Greedy(3) with { IgnoreEos = true });
        var second = engine.Add([6, 7], SamplingParams.Greedy(3) with { IgnoreEos = true });
        var launches = new List<(int, int)>();
        executor.Launched = _ => launches.Add((first.OutputLength, second.OutputLength));
        engine.RunToCompletion();
        // Each sequence's steps overlap; the second's prefill waits for the first's last token.
        Assert.Equal([(0, 0), (0, 0), (1, 0), (3, 0), (3, 0), (3, 1)], launches);
        Assert.Equal(3, second.OutputLength);
        Assert.Equal(0, engine.Scheduler.Preemptions);
    }

    [Fact]
    public async Task TheServingStepReturnsTheLastStepsTokensWhileTheNextOneRuns()
    {
        var executor = new CountingExecutor();
        var device = new List<TaskCompletionSource>();
        executor.Device = () =>
        {
            var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            device.Add(running);
            return running.Task;
        };
        using var engine = Engine(executor, async: true);
        var sequence = engine.Add([1, 2, 3], SamplingParams.Greedy(4) with { IgnoreEos = true });

        var step = engine.StepAsync().AsTask();
        Assert.False(step.IsCompleted); // the prefill runs
        Assert.Equal(1, executor.Launches);
        device[0].SetResult();
        var advanced = await step.WaitAsync(TimeSpan.FromSeconds(30));
        // The prefill's token is out, and the step after it was launched and still runs.
        Assert.Same(sequence, Assert.Single(advanced));
        Assert.Equal(1, sequence.OutputLength);
        Assert.Equal(2, executor.Launches);
        Assert.False(device[1].Task.IsCompleted);

        for (int n = 1; n < 4; n++)
        {
            step = engine.StepAsync().AsTask();
            Assert.False(step.IsCompleted);
            device[n].SetResult();
            await step.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(n + 1, sequence.OutputLength);
        }
        Assert.Equal(4, executor.Launches); // none past max_tokens
        Assert.False(engine.HasWork);
    }

    [Fact]
    public void WithoutAsyncSchedulingEachStepIsLaunchedAfterTheLastOnesTokens()
    {
        var executor = new CountingExecutor();
        using var engine = Engine(executor, async: false);
        var sequence = engine.Add([1, 2, 3], SamplingParams.Greedy(6) with { IgnoreEos = true });
        var outputAtLaunch = new List<int>();
        executor.Launched = _ => outputAtLaunch.Add(sequence.OutputLength);
        engine.RunToCompletion();
        Assert.Equal([0, 1, 2, 3, 4, 5], outputAtLaunch);
    }

    /// <summary>Prompts of different lengths, finishing at different steps by max_tokens, an end-of-sequence id, a stop id.</summary>
    internal static (List<Sequence> Sequences, List<Advanced[]> Steps, long Preemptions) RunMixed(bool async, int blocks = 64, int maxBatchedTokens = 512, CountingExecutor? executor = null)
    {
        executor ??= new CountingExecutor();
        using var engine = Engine(executor, async, blocks, maxBatchedTokens);
        var sequences = new List<Sequence>
        {
            engine.Add([1, 2, 3, 4, 5, 6, 7, 8, 9], SamplingParams.Greedy(20) with { IgnoreEos = true }),
            engine.Add([2, 4], SamplingParams.Greedy(3) with { IgnoreEos = true }),
            engine.Add([5, 1, 1, 5, 9, 2, 6], SamplingParams.Greedy(20)), // its third token is the end-of-sequence id 12
            engine.Add([3, 3, 3], SamplingParams.Greedy(20) with { IgnoreEos = true, StopTokenIds = [8] }), // its fifth token
        };
        var steps = new List<Advanced[]>();
        for (int i = 0; i < 3; i++) steps.Add(Advanced.Of(engine.Step()));
        // Joining while a step is in flight.
        sequences.Add(engine.Add([8, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], SamplingParams.Greedy(9) with { IgnoreEos = true }));
        sequences.Add(engine.Add([4, 9], SamplingParams.Greedy(15) with { IgnoreEos = true, Logprobs = 2 }));
        while (engine.HasWork) steps.Add(Advanced.Of(engine.Step()));
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
        return (sequences, steps, engine.Scheduler.Preemptions);
    }

    [Fact]
    public void TokensStopsAndMaxTokensAreTheSameWithAndWithout()
    {
        var (expected, _, _) = RunMixed(async: false);
        var (actual, steps, _) = RunMixed(async: true);
        Assert.Equal(FinishReason.Stop, expected[2].FinishReason);
        Assert.Equal(FinishReason.Stop, expected[3].FinishReason);
        Assert.Equal(3, expected[1].OutputLength);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].OutputIds.ToArray(), actual[i].OutputIds.ToArray());
            Assert.Equal(expected[i].FinishReason, actual[i].FinishReason);
        }
        Assert.Equal(expected[5].Logprobs!.Select(l => l.TokenId), actual[5].Logprobs!.Select(l => l.TokenId));
        AssertNothingAfterFinish(actual, steps);
    }

    [Fact]
    public void ChunkedPrefillAndPreemptionKeepTheTokens()
    {
        // Blocks for little more than the longest sequence, eight tokens a step: prompts go in chunks, sequences are preempted.
        var (expected, _, _) = RunMixed(async: false, blocks: 9, maxBatchedTokens: 8);
        var (actual, steps, preemptions) = RunMixed(async: true, blocks: 9, maxBatchedTokens: 8);
        Assert.True(preemptions > 0, "the small cache should have forced a preemption");
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].OutputIds.ToArray(), actual[i].OutputIds.ToArray());
        AssertNothingAfterFinish(actual, steps);
    }

    /// <summary>A sequence a step advanced, and whether it had finished then.</summary>
    internal readonly record struct Advanced(Sequence Sequence, bool Finished)
    {
        public static Advanced[] Of(IReadOnlyList<Sequence> step) => [.. step.Select(s => new Advanced(s, s.Status == SequenceStatus.Finished))];
    }

    /// <summary>A sequence is advanced once a token, and never after the step that finished it.</summary>
    internal static void AssertNothingAfterFinish(IReadOnlyList<Sequence> sequences, IReadOnlyList<Advanced[]> steps)
    {
        var finished = new HashSet<Sequence>();
        var advances = new Dictionary<Sequence, int>();
        foreach (var step in steps)
        {
            foreach (var (sequence, done) in step)
            {
                Assert.DoesNotContain(sequence, finished);
                advances[sequence] = advances.GetValueOrDefault(sequence) + 1;
                if (done) finished.Add(sequence);
            }
        }
        foreach (var sequence in sequences) Assert.Equal(sequence.OutputLength - sequence.ResumedLength, advances.GetValueOrDefault(sequence));
    }

    [Fact]
    public void AnAbortWhileItsNextStepRunsEndsTheSequenceThere()
    {
        var executor = new CountingExecutor();
        using var engine = Engine(executor, async: true);
        var aborted = engine.Add([1, 2, 3], SamplingParams.Greedy(20) with { IgnoreEos = true });
        var other = engine.Add([4, 5], SamplingParams.Greedy(10) with { IgnoreEos = true });
        engine.Step();
        engine.Step();
        engine.Abort(aborted); // its third token is being computed
        int tokens = aborted.OutputLength;
        var steps = new List<Advanced[]>();
        while (engine.HasWork) steps.Add(Advanced.Of(engine.Step()));
        Assert.Equal(2, tokens);
        Assert.Equal(tokens, aborted.OutputLength);
        Assert.Equal(FinishReason.Abort, aborted.FinishReason);
        Assert.DoesNotContain(steps, s => s.Any(a => a.Sequence == aborted));
        Assert.Equal(10, other.OutputLength);
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);

        using var reference = Engine(new CountingExecutor(), async: false);
        var alone = reference.Add([4, 5], SamplingParams.Greedy(10) with { IgnoreEos = true });
        reference.RunToCompletion();
        Assert.Equal(alone.OutputIds.ToArray(), other.OutputIds.ToArray());
    }

    [Fact]
    public void AStopTokenEndsTheOutputThoughTheNextStepRanForIt()
    {
        var executor = new CountingExecutor();
        using var engine = Engine(executor, async: true);
        // The first two tokens after [3, 3, 3]: stop on the second.
        int first = CountingExecutor.NextToken(3, 2, executor.VocabSize), second = CountingExecutor.NextToken(first, 3, executor.VocabSize);
        var sequence = engine.Add([3, 3, 3], SamplingParams.Greedy(20) with { IgnoreEos = true, StopTokenIds = [second] });
        engine.RunToCompletion();
        Assert.Equal([first, second], sequence.OutputIds.ToArray());
        Assert.Equal(FinishReason.Stop, sequence.FinishReason);
        // The prefill, the step that sampled the stop token, and one more launched before the stop was seen (its token dropped).
        Assert.Equal(3, executor.Launches);
        // That last step was read too: nothing is left in flight.
        Assert.False(engine.HasWork);
        engine.ReadLogits(0, new float[executor.VocabSize]);
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
    }
}

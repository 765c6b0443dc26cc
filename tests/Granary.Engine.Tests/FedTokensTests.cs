namespace Granary.Engine.Tests;

/// <summary>
/// Async scheduling with the tokens fed on the executor (<see cref="EngineOptions.FeedTokensOnDevice"/>): a greedy
/// continuation is launched before the step it continues is read, and the outputs, stops and max_tokens are exactly
/// those of a run without async scheduling.
/// </summary>
public class FedTokensTests
{
    [Fact]
    public void AGreedyContinuationIsLaunchedWithItsTokensFedBeforeTheLastStepIsRead()
    {
        var executor = new CountingExecutor(feedsTokens: true);
        using var engine = AsyncSchedulingTests.Engine(executor, async: true);
        var sequence = engine.Add([1, 2, 3], SamplingParams.Greedy(6) with { IgnoreEos = true });
        var launches = new List<(bool Fed, int Output)>();
        executor.Launched = b => launches.Add((b.FeedsTokens, sequence.OutputLength));
        engine.RunToCompletion();
        // The prefill, then five decode steps each fed from the step before; none past max_tokens.
        Assert.Equal([(false, 0), (true, 0), (true, 1), (true, 2), (true, 3), (true, 4)], launches);
        Assert.Equal(5, engine.FedSteps);
        using var reference = AsyncSchedulingTests.Engine(new CountingExecutor(), async: false);
        var alone = reference.Add([1, 2, 3], SamplingParams.Greedy(6) with { IgnoreEos = true });
        reference.RunToCompletion();
        Assert.Equal(alone.OutputIds.ToArray(), sequence.OutputIds.ToArray());
        Assert.Equal(FinishReason.Length, sequence.FinishReason);
    }

    [Fact]
    public void TokensStopsAndMaxTokensAreTheSameAsWithoutAsyncScheduling()
    {
        var (expected, _, _) = AsyncSchedulingTests.RunMixed(async: false);
        var executor = new CountingExecutor(feedsTokens: true);
        var (actual, steps, _) = AsyncSchedulingTests.RunMixed(async: true, executor: executor);
        Assert.True(executor.FedLaunches > 10, $"only {executor.FedLaunches} of {executor.Launches} steps were fed");
        Assert.Equal(FinishReason.Stop, expected[2].FinishReason);
        Assert.Equal(FinishReason.Stop, expected[3].FinishReason);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].OutputIds.ToArray(), actual[i].OutputIds.ToArray());
            Assert.Equal(expected[i].FinishReason, actual[i].FinishReason);
        }
        Assert.Equal(expected[5].Logprobs!.Select(l => l.TokenId), actual[5].Logprobs!.Select(l => l.TokenId));
        AsyncSchedulingTests.AssertNothingAfterFinish(actual, steps);
    }

    [Fact]
    public void ChunkedPrefillAndPreemptionKeepTheTokens()
    {
        var (expected, _, _) = AsyncSchedulingTests.RunMixed(async: false, blocks: 9, maxBatchedTokens: 8);
        var executor = new CountingExecutor(feedsTokens: true);
        var (actual, steps, preemptions) = AsyncSchedulingTests.RunMixed(async: true, blocks: 9, maxBatchedTokens: 8, executor: executor);
        Assert.True(preemptions > 0, "the small cache should have forced a preemption");
        Assert.True(executor.FedLaunches > 0);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].OutputIds.ToArray(), actual[i].OutputIds.ToArray());
        AsyncSchedulingTests.AssertNothingAfterFinish(actual, steps);
    }

    [Fact]
    public void AStepWithASampledSequenceWaitsForItsTokens()
    {
        var executor = new CountingExecutor(feedsTokens: true);
        using var engine = AsyncSchedulingTests.Engine(executor, async: true);
        engine.Add([1, 2, 3], SamplingParams.Greedy(8) with { IgnoreEos = true });
        engine.Add([4, 5], new SamplingParams { Temperature = 0.7f, TopK = 5, Seed = 3, MaxTokens = 8, IgnoreEos = true });
        engine.RunToCompletion();
        Assert.Equal(0, executor.FedLaunches);
        Assert.Equal(0, engine.FedSteps);
    }

    [Fact]
    public void WithTheFeedOffNoStepIsFed()
    {
        var executor = new CountingExecutor(feedsTokens: true);
        using var engine = new LlmEngine(executor, null, [12], new EngineOptions { KvCacheBlocks = 64, BlockSize = 4, FeedTokensOnDevice = false });
        var sequence = engine.Add([1, 2, 3], SamplingParams.Greedy(6) with { IgnoreEos = true });
        engine.RunToCompletion();
        Assert.Equal(0, executor.FedLaunches);
        Assert.Equal(6, sequence.OutputLength);
    }

    [Fact]
    public void AnAbortWhileAFedStepRunsEndsTheSequenceThere()
    {
        var executor = new CountingExecutor(feedsTokens: true);
        using var engine = AsyncSchedulingTests.Engine(executor, async: true);
        var aborted = engine.Add([1, 2, 3], SamplingParams.Greedy(20) with { IgnoreEos = true });
        var other = engine.Add([4, 5], SamplingParams.Greedy(10) with { IgnoreEos = true });
        engine.Step();
        engine.Step();
        engine.Abort(aborted);
        int tokens = aborted.OutputLength;
        while (engine.HasWork) engine.Step();
        Assert.Equal(tokens, aborted.OutputLength);
        Assert.Equal(FinishReason.Abort, aborted.FinishReason);
        Assert.Equal(10, other.OutputLength);
        Assert.True(executor.FedLaunches > 5);
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
        using var reference = AsyncSchedulingTests.Engine(new CountingExecutor(), async: false);
        var alone = reference.Add([4, 5], SamplingParams.Greedy(10) with { IgnoreEos = true });
        reference.RunToCompletion();
        Assert.Equal(alone.OutputIds.ToArray(), other.OutputIds.ToArray());
    }
}

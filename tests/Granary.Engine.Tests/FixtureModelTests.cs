using Granary.Compute.Cpu;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Engine.Tests;

/// <summary>The model and engine against Hugging Face's logits and greedy tokens for every fixture.</summary>
public class FixtureModelTests
{
    private static LlmEngine Engine(string fixture, EngineOptions? options = null)
    {
        string dir = TestData.Fixture(fixture);
        var config = ModelConfig.Load(dir);
        var backend = new CpuBackend();
        using var checkpoint = Checkpoint.Open(dir);
        options ??= new EngineOptions { KvCacheBlocks = 64 };
        var model = LlamaModel.Load(config, checkpoint, backend, ShardSpec.Whole(config.NumLayers), options.MaxBatchedTokens, config.MaxPositionEmbeddings);
        return new LlmEngine(new SingleRankExecutor(model, backend), null, config.EosTokenIds, options);
    }

    public static float Tolerance(string fixture) => fixture.Contains("bf16") ? 2e-2f : 1e-3f;

    [Theory]
    [MemberData(nameof(TestData.Fixtures), MemberType = typeof(TestData))]
    public void GreedyTokensAndLastLogitsMatchTransformers(string fixture)
    {
        var reference = TestData.Reference(fixture);
        // Without async scheduling: the logits read after the first step are that step's.
        using var engine = Engine(fixture, new EngineOptions { KvCacheBlocks = 64, AsyncScheduling = false });
        foreach (var prompt in reference.GetProperty("prompts").EnumerateArray())
        {
            int[] ids = TestData.Ints(prompt.GetProperty("ids"));
            int[] greedy = TestData.Ints(prompt.GetProperty("greedy"));
            float[] expected = TestData.Floats(prompt.GetProperty("last_logits"));

            var sequence = engine.Add(ids, SamplingParams.Greedy(greedy.Length) with { IgnoreEos = true, Logprobs = 5 });
            engine.Step();
            float[] logits = new float[expected.Length];
            engine.ReadLogits(0, logits);
            engine.RunToCompletion();

            float worst = 0;
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(logits[i] - expected[i]));
            Assert.True(worst <= Tolerance(fixture), $"{fixture} '{prompt.GetProperty("text")}': logits differ by {worst}");
            Assert.Equal(greedy, sequence.OutputIds.ToArray());

            float[] logSoftmax = TestData.LogSoftmax(expected);
            var first = sequence.Logprobs![0];
            Assert.Equal(greedy[0], first.TokenId);
            foreach (var alternative in first.Top)
                Assert.InRange(alternative.Logprob, logSoftmax[alternative.TokenId] - Tolerance(fixture), logSoftmax[alternative.TokenId] + Tolerance(fixture));
            var expectedTop = logSoftmax.Select((l, i) => (l, i)).OrderByDescending(p => p.l).Take(5).Select(p => p.i);
            Assert.Equal(expectedTop.First(), first.Top[0].TokenId);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Fixtures), MemberType = typeof(TestData))]
    public void BatchedChunkedAndPreemptedRunsGiveTheSameTokens(string fixture)
    {
        var reference = TestData.Reference(fixture);
        var prompts = reference.GetProperty("prompts").EnumerateArray().ToArray();
        // A cache just large enough for the longest sequence (prompt + 12) but not for two (preemption),
        // a small token budget (chunked prefill), all prompts at once (batching).
        int longest = prompts.Max(p => p.GetProperty("ids").GetArrayLength()) + 12;
        using var engine = Engine(fixture, new EngineOptions { KvCacheBlocks = (longest + 3) / 4, BlockSize = 4, MaxBatchedTokens = 8 });
        var sequences = prompts.Select(p => engine.Add(TestData.Ints(p.GetProperty("ids")), SamplingParams.Greedy(12) with { IgnoreEos = true })).ToList();
        engine.RunToCompletion();
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(TestData.Ints(prompts[i].GetProperty("greedy")), sequences[i].OutputIds.ToArray());
        Assert.True(engine.Scheduler.Preemptions > 0, "the tiny cache should have forced a preemption");
        Assert.Equal(engine.Blocks.TotalBlocks, engine.Blocks.FreeBlocks);
    }
}

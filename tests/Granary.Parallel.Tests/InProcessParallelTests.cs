namespace Granary.Parallel.Tests;

/// <summary>Every fixture and stories15M split TP x PP ways across threads gives the single-rank tokens and logprobs.</summary>
public class InProcessParallelTests
{
    /// <summary>(model, tp, pp, partition): tp 4 where the heads allow it (replicated KV heads beyond the KV head count), pp 3 where there are 3+ layers.</summary>
    public static IEnumerable<object?[]> Layouts()
    {
        foreach (var model in new[] { "llama-tiny", "qwen2-tiny", "llama3-tiny-bf16", "mixtral-tiny" })
        {
            yield return [model, 2, 1, null];
            yield return [model, 4, 1, null];
            yield return [model, 1, 2, null];
            yield return [model, 2, 2, null];
        }
        yield return ["qwen2-tiny", 1, 3, null];
        yield return ["stories15M", 2, 1, null];
        yield return ["stories15M", 1, 2, null];
        yield return ["stories15M", 1, 3, "1,2,3"];
        yield return ["stories15M", 2, 2, null];
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void SameTokensAndLogprobsAsOneRank(string model, int tp, int pp, string? partition)
    {
        var expected = Runs.Reference(model);
        var actual = Runs.Generate(model, tp, pp, partition is null ? null : Granary.Models.Llama.ParallelPlan.ParsePartition(partition));
        SameAnswers.Assert($"{model} tp {tp} pp {pp}{(partition is null ? "" : " partition " + partition)}", expected, actual);
    }

    [Fact]
    public void EachTensorParallelRankHoldsAboutHalfTheWeights()
    {
        string dir = TestData.Stories15M;
        var config = Granary.Models.Checkpoints.ModelConfig.Load(dir);
        long whole;
        using (var checkpoint = Granary.Models.Checkpoints.Checkpoint.Open(dir))
        using (var backend = new Granary.Compute.Cpu.CpuBackend(new() { Threads = 1 }))
        using (var model = Granary.Models.Llama.LlamaModel.Load(config, checkpoint, backend, Granary.Models.ShardSpec.Whole(config.NumLayers), 16, 64))
            whole = model.WeightBytes;
        var plan = Granary.Models.Llama.ParallelPlan.Create(config, 2, 1);
        using var group = new Granary.Engine.InProcessGroupExecutor(dir, plan, _ => new Granary.Compute.Cpu.CpuBackend(new() { Threads = 1 }), 16, 64, TimeSpan.FromSeconds(30));
        foreach (var rank in group.Ranks)
            Assert.InRange(rank.WeightBytes / (double)whole, 0.49, 0.51);
    }
}

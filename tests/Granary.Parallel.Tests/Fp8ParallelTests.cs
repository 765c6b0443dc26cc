using Granary.Tests.Shared;

namespace Granary.Parallel.Tests;

/// <summary>An FP8 checkpoint split across tensor-parallel ranks: each rank's slices keep their rows' scales, so the answers are one rank's.</summary>
public class Fp8ParallelTests
{
    [Theory]
    [InlineData("llama-tiny", Fp8Layout.PerChannel, 2)]
    [InlineData("llama-tiny", Fp8Layout.PerChannel, 4)]
    [InlineData("qwen2-tiny", Fp8Layout.PerChannel, 2)]
    [InlineData("mixtral-tiny", Fp8Layout.PerTensor, 2)]
    [InlineData("llama-tiny", Fp8Layout.Block, 2)]
    public void TensorParallelRanksGiveTheSingleRankAnswers(string model, Fp8Layout layout, int tp)
    {
        // Blocks of 32 make the ranks' row and column slices cross block edges.
        using var fp8 = new Fp8Checkpoint(TestData.Fixture(model), layout, block: 32);
        var expected = Runs.Generate(model, 1, 1, null, fp8.Directory);
        var actual = Runs.Generate(model, tp, 1, null, fp8.Directory);
        SameAnswers.Assert($"{model} FP8 {layout} tp {tp}", expected, actual);
    }
}

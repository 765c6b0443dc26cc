using Granary.Compute;
using Granary.Compute.Cpu;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;
using Granary.Tests.Shared;

namespace Granary.Engine.Tests;

/// <summary>FP8 checkpoints of the fixtures on the CPU backend, against load-time FP8 quantization and Hugging Face's logits.</summary>
public class Fp8ModelTests
{
    /// <summary>
    /// How far the last logits of an FP8 checkpoint may be from Hugging Face's full-precision ones. E4M3 rounds each
    /// weight by up to 1/16 of itself (about 1/50 on average); through the fixtures' random two-layer models, whose logits
    /// lie within ±3.2, the worst of 512+ logits moves by 0.10 to 0.36 (measured over every prompt, layout and fixture
    /// here: 0.15 to 0.25 typically, 0.36 at worst for mixtral-tiny with 32 x 32 blocks). A slip in the scales' layout
    /// moves them by the logits' own size.
    /// </summary>
    public const float ReferenceBound = 0.4f;

    private sealed record Output(float[] LastLogits, int[] Tokens);

    private static Output[] Generate(string directory, string fixture, WeightQuantization quantization)
    {
        var config = ModelConfig.Load(directory);
        var backend = new CpuBackend(new CpuBackendOptions { Quantization = quantization });
        var options = new EngineOptions { KvCacheBlocks = 64, AsyncScheduling = false };
        LlamaModel model;
        using (var checkpoint = Checkpoint.Open(directory))
            model = LlamaModel.Load(config, checkpoint, backend, ShardSpec.Whole(config.NumLayers), options.MaxBatchedTokens, config.MaxPositionEmbeddings);
        using var engine = new LlmEngine(new SingleRankExecutor(model, backend), null, config.EosTokenIds, options);
        var outputs = new List<Output>();
        foreach (var prompt in TestData.Reference(fixture).GetProperty("prompts").EnumerateArray())
        {
            var sequence = engine.Add(TestData.Ints(prompt.GetProperty("ids")), SamplingParams.Greedy(12) with { IgnoreEos = true });
            engine.Step();
            var logits = new float[config.VocabSize];
            engine.ReadLogits(0, logits);
            engine.RunToCompletion();
            outputs.Add(new Output(logits, sequence.OutputIds.ToArray()));
        }
        return outputs.ToArray();
    }

    private static float Worst(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    [Theory]
    [MemberData(nameof(TestData.Fixtures), MemberType = typeof(TestData))]
    public void PerChannelCheckpointEqualsLoadTimeQuantization(string fixture)
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture(fixture), Fp8Layout.PerChannel);
        // The same codes and scales: under --quantization fp8 (which rounds the embeddings too) the logits are the same floats.
        var expected = Generate(TestData.Fixture(fixture), fixture, WeightQuantization.Fp8);
        var actual = Generate(fp8.Directory, fixture, WeightQuantization.Fp8);
        for (int p = 0; p < expected.Length; p++)
        {
            Assert.Equal(expected[p].LastLogits, actual[p].LastLogits);
            Assert.Equal(expected[p].Tokens, actual[p].Tokens);
        }
    }

    [Theory]
    [InlineData("llama-tiny", Fp8Layout.PerChannel, 128)]
    [InlineData("qwen2-tiny", Fp8Layout.PerChannel, 128)]
    [InlineData("llama3-tiny-bf16", Fp8Layout.PerChannel, 128)]
    [InlineData("mixtral-tiny", Fp8Layout.PerChannel, 128)]
    [InlineData("llama-tiny", Fp8Layout.PerTensor, 128)]
    [InlineData("qwen2-tiny", Fp8Layout.PerTensor, 128)]
    [InlineData("llama-tiny", Fp8Layout.Block, 128)]
    [InlineData("qwen2-tiny", Fp8Layout.Block, 128)]
    [InlineData("llama-tiny", Fp8Layout.Block, 32)]
    [InlineData("mixtral-tiny", Fp8Layout.Block, 32)]
    public void CheckpointGeneratesNearTheReference(string fixture, Fp8Layout layout, int block)
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture(fixture), layout, block);
        var actual = Generate(fp8.Directory, fixture, WeightQuantization.None);
        var prompts = TestData.Reference(fixture).GetProperty("prompts").EnumerateArray().ToArray();
        for (int p = 0; p < prompts.Length; p++)
        {
            float worst = Worst(TestData.Floats(prompts[p].GetProperty("last_logits")), actual[p].LastLogits);
            Assert.True(worst <= ReferenceBound, $"{fixture} {layout} prompt {p}: logits differ from Hugging Face's by {worst}");
            Assert.Equal(12, actual[p].Tokens.Length);
        }
    }
}

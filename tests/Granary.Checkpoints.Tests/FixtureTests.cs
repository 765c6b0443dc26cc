using Granary.Compute;
using Granary.Models.Checkpoints;

namespace Granary.Checkpoints.Tests;

/// <summary>The Hugging Face fixtures (tests/data/fixtures) open, parse, and have every tensor with its shape.</summary>
public class FixtureTests
{
    public static TheoryData<string> Fixtures => new() { "llama-tiny", "llama3-tiny-bf16", "mixtral-tiny", "qwen2-tiny" };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EveryTensorIsPresentWithItsShape(string name)
    {
        string dir = TestData.Fixture(name);
        var config = ModelConfig.Load(dir);
        using var ckpt = Checkpoint.Open(dir);
        var expected = ExpectedTensors.For(config);
        DType dtype = config.TorchDtype == "bfloat16" ? DType.BF16 : DType.F32;
        foreach (var (tensor, shape) in expected)
        {
            var info = ckpt.Require(tensor, shape);
            Assert.Equal(dtype, info.DType);
            Assert.Equal(Path.Combine(dir, "model.safetensors"), info.File);
            Assert.Equal(info.ByteLength, ckpt.Bytes(tensor).Length);
        }
        Assert.Equal(expected.Keys.Order(), ckpt.TensorNames.Order());
    }

    [Fact]
    public void LlamaTiny()
    {
        var c = ModelConfig.Load(TestData.Fixture("llama-tiny"));
        Assert.Equal(ModelArchitecture.Llama, c.Architecture);
        Assert.Equal((64, 160, 2, 4, 2, 16, 512), (c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim, c.VocabSize));
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Equal(256, c.MaxPositionEmbeddings);
        Assert.False(c.TieWordEmbeddings);
        Assert.False(c.AttentionBias);
        Assert.False(c.MlpBias);
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal([2], c.EosTokenIds);
        Assert.Equal("float32", c.TorchDtype);
        Assert.Equal(new RopeConfig(10000), c.Rope);
        Assert.Equal(0, c.NumExperts);
    }

    [Fact]
    public void Llama3TinyHasLlama3Rope()
    {
        var c = ModelConfig.Load(TestData.Fixture("llama3-tiny-bf16"));
        Assert.Equal(ModelArchitecture.Llama, c.Architecture);
        Assert.Equal((128, 4, 1, 32), (c.HiddenSize, c.NumHeads, c.NumKvHeads, c.HeadDim));
        Assert.True(c.TieWordEmbeddings);
        Assert.Null(c.BosTokenId);
        Assert.Equal([0], c.EosTokenIds);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.Equal(new RopeConfig(500000, RopeType.Llama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64), c.Rope);
    }

    [Fact]
    public void Qwen2TinyHasQkvBias()
    {
        var c = ModelConfig.Load(TestData.Fixture("qwen2-tiny"));
        Assert.Equal(ModelArchitecture.Qwen2, c.Architecture);
        Assert.True(c.AttentionBias);
        Assert.False(c.AttentionOutputBias);
        Assert.Equal((8, 2, 8), (c.NumHeads, c.NumKvHeads, c.HeadDim));
        Assert.True(c.TieWordEmbeddings);
        Assert.Null(c.SlidingWindow); // use_sliding_window is false
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(1e6, c.Rope.Theta);
        Assert.Equal(RopeType.Default, c.Rope.Type);
    }

    [Fact]
    public void MixtralTinyHasExperts()
    {
        var c = ModelConfig.Load(TestData.Fixture("mixtral-tiny"));
        Assert.Equal(ModelArchitecture.Mixtral, c.Architecture);
        Assert.Equal(4, c.NumExperts);
        Assert.Equal(2, c.NumExpertsPerToken);
        Assert.Equal(16, c.HeadDim); // head_dim is null: hidden / heads
        Assert.Null(c.SlidingWindow);
        Assert.Equal(96, c.IntermediateSize);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void GenerationConfigParses(string name)
    {
        var g = GenerationConfig.Load(TestData.Fixture(name));
        Assert.NotNull(g);
        var c = ModelConfig.Load(TestData.Fixture(name));
        Assert.Equal(c.EosTokenIds, g.EosTokenIds);
        Assert.Equal(c.BosTokenId, g.BosTokenId);
        Assert.Null(g.Temperature);
    }

    [Fact]
    public void RowsOfAFixtureMatchTheWholeTensor()
    {
        using var ckpt = Checkpoint.Open(TestData.Fixture("llama3-tiny-bf16"));
        const string name = "model.layers.1.self_attn.q_proj.weight"; // [128, 128] bf16
        var all = ckpt.Bytes(name).ToArray();
        var rows = new byte[32 * 128 * 2];
        ckpt.CopyRows(name, 64, 32, rows);
        Assert.Equal(all.AsSpan(64 * 256, 32 * 256).ToArray(), rows);
    }
}

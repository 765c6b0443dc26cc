using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Compute.Fp8;
using Granary.Models.Checkpoints;
using Granary.Tests.Shared;

namespace Granary.Checkpoints.Tests;

/// <summary>FP8 (F8_E4M3) weights with their scale tensors: the layouts they read in, slices, and bad files.</summary>
public class Fp8CheckpointTests
{
    private const string Q = "model.layers.0.self_attn.q_proj.weight", Down = "model.layers.0.mlp.down_proj.weight";

    private static float[] Original(string fixture, string name)
    {
        using var checkpoint = Checkpoint.Open(TestData.Fixture(fixture));
        return HostConversions.ToFloat(checkpoint.Info(name).DType, checkpoint.Bytes(name));
    }

    [Fact]
    public void PerChannelWeightsReadAsTheCodesAndScalesOfLoadTimeQuantization()
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture("llama-tiny"), Fp8Layout.PerChannel);
        using var checkpoint = Checkpoint.Open(fp8.Directory);
        var info = checkpoint.Require(Down, 64, 160);
        Assert.Equal(DType.F8E4M3, info.DType);
        float[] original = Original("llama-tiny", Down);

        var rows = new byte[Fp8Weights.ByteCount(10, 160)];
        checkpoint.CopyRows(Down, 5, 10, rows);
        Assert.Equal(Fp8Weights.Quantize(original.AsSpan(5 * 160, 10 * 160), 160), rows);

        // Columns of every row keep the whole rows' scales: a tensor-parallel slice is exact.
        var whole = Fp8Weights.Quantize(original, 160);
        var columns = new byte[Fp8Weights.ByteCount(64, 80)];
        checkpoint.CopyColumns(Down, 80, 80, columns);
        for (int r = 0; r < 64; r++)
            Assert.Equal(whole.AsSpan(r * 160 + 80, 80).ToArray(), Fp8Weights.Codes(columns, 80).Slice(r * 80, 80).ToArray());
        Assert.Equal(Fp8Weights.Scales(whole, 160).ToArray(), Fp8Weights.Scales(columns, 80).ToArray());

        // The scales stay readable by name; embeddings and norms are as they were.
        Assert.Equal([64L], checkpoint.Info(Down + "_scale").Shape);
        Assert.Equal(DType.F32, checkpoint.Info("model.embed_tokens.weight").DType);
    }

    [Fact]
    public void PerTensorScaleIsRepeatedForEveryRow()
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture("llama-tiny"), Fp8Layout.PerTensor);
        using var checkpoint = Checkpoint.Open(fp8.Directory);
        Assert.Equal(DType.F8E4M3, checkpoint.Info(Q).DType);
        Assert.Empty(checkpoint.Info(Q + "_scale").Shape);
        var rows = new byte[Fp8Weights.ByteCount(64, 64)];
        checkpoint.CopyRows(Q, 0, 64, rows);
        float scale = TestData.Floats(checkpoint.Bytes(Q + "_scale"))[0];
        Assert.All(Fp8Weights.Scales(rows, 64).ToArray(), s => Assert.Equal(scale, s));
        AssertClose(Original("llama-tiny", Q), Fp8Weights.Dequantize(rows, 64), scale);
    }

    [Theory]
    [InlineData(128)]
    [InlineData(32)]
    public void BlockScaledWeightsReadDequantized(int block)
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture("llama-tiny"), Fp8Layout.Block, block);
        using var checkpoint = Checkpoint.Open(fp8.Directory);
        var info = checkpoint.Require(Down, 64, 160);
        Assert.Equal(DType.F32, info.DType);
        Assert.Equal(new long[] { (64 + block - 1) / block, (160 + block - 1) / block }, checkpoint.Info(Down + "_scale_inv").Shape);
        float[] original = Original("llama-tiny", Down);
        float maxScale = TestData.Floats(checkpoint.Bytes(Down + "_scale_inv")).Max();

        var rows = new byte[3 * 160 * 4];
        checkpoint.CopyRows(Down, 30, 3, rows);
        AssertClose(original.AsSpan(30 * 160, 3 * 160).ToArray(), TestData.Floats(rows), maxScale);

        // Columns 70..149 cross a block edge at 32 and 128.
        var columns = new byte[64 * 80 * 4];
        checkpoint.CopyColumns(Down, 70, 80, columns);
        var expected = Enumerable.Range(0, 64).SelectMany(r => original.AsSpan(r * 160 + 70, 80).ToArray()).ToArray();
        AssertClose(expected, TestData.Floats(columns), maxScale);
        var all = new byte[64 * 160 * 4];
        checkpoint.CopyRows(Down, 0, 64, all);
        var fromRows = TestData.Floats(all);
        Assert.Equal(Enumerable.Range(0, 64).SelectMany(r => fromRows.AsSpan(r * 160 + 70, 80).ToArray()), TestData.Floats(columns));
    }

    /// <summary>E4M3 keeps 3 mantissa bits: a normal value is off by at most 1/16 of itself, a subnormal by 2^-10 of its scale.</summary>
    private static void AssertClose(float[] expected, float[] actual, float scale)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Math.Abs(expected[i]) / 16 + scale / 1024 * 1.001f, $"element {i}: {actual[i]}, not {expected[i]}");
    }

    [Fact]
    public void ReadingAnFp8WeightCountsItsScaleAsRead()
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture("llama-tiny"), Fp8Layout.PerChannel);
        var progress = new Collected();
        using (var checkpoint = Checkpoint.Open(fp8.Directory))
        {
            checkpoint.ReportReads(progress);
            foreach (string name in checkpoint.TensorNames.Where(n => !n.EndsWith("_scale", StringComparison.Ordinal)))
            {
                var info = checkpoint.Info(name);
                long cols = info.Shape.Length == 2 ? info.Shape[1] : 1;
                var bytes = new byte[info.DType == DType.F8E4M3 ? Fp8Weights.ByteCount(info.Shape[0], cols) : info.ByteLength];
                checkpoint.CopyRows(name, 0, info.Shape[0], bytes);
            }
            Assert.Equal(progress.Reports[^1].TotalBytes, progress.Reports[^1].DoneBytes);
            Assert.True(progress.Reports[^1].FileDone);
        }
    }

    [Fact]
    public void ConfigWithQuantizationConfigLoads()
    {
        using var fp8 = new Fp8Checkpoint(TestData.Fixture("qwen2-tiny"), Fp8Layout.Block);
        var config = ModelConfig.Load(fp8.Directory);
        Assert.Equal(ModelConfig.Load(TestData.Fixture("qwen2-tiny")).HiddenSize, config.HiddenSize);
    }

    [Fact]
    public void Fp8WeightWithoutScaleIsNamed()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        new SafetensorsWriter().Add("w.weight", DType.F8E4M3, [2, 3], new byte[6]).Write(path);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.Equal($"{path}: FP8 tensor 'w.weight' has no scale tensor: expected 'w.weight_scale' (per-tensor or per-output-channel) or 'w.weight_scale_inv' (block scales)", e.Message);
    }

    [Theory]
    [InlineData("_scale", new long[] { 3 }, "[3], but FP8 weight 'w.weight' of shape [2, 3] needs [] or [1] (per-tensor) or [2] or [2, 1] (per-output-channel)")]
    [InlineData("_scale", new long[] { 2, 3 }, "[2, 3], but FP8 weight 'w.weight' of shape [2, 3] needs [] or [1] (per-tensor) or [2] or [2, 1] (per-output-channel)")]
    [InlineData("_scale_inv", new long[] { 2, 1 }, "[2, 1], but FP8 weight 'w.weight' of shape [2, 3] in blocks of 128 x 128 needs [1, 1]")]
    public void WrongScaleShapeIsNamed(string suffix, long[] shape, string message)
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        new SafetensorsWriter()
            .Add("w.weight", DType.F8E4M3, [2, 3], new byte[6])
            .Add("w.weight" + suffix, DType.F32, shape, new byte[4 * shape.Aggregate(1L, (a, b) => a * b)])
            .Write(path);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.Equal($"{path}: {(suffix == "_scale" ? "" : "block ")}scale tensor 'w.weight{suffix}' has shape {message}", e.Message);
    }

    [Fact]
    public void ScaleOfAnotherTypeIsNamed()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        new SafetensorsWriter()
            .Add("w.weight", DType.F8E4M3, [2, 3], new byte[6])
            .Add("w.weight_scale", DType.I32, [2], new byte[8])
            .Write(path);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.Equal($"{path}: scale tensor 'w.weight_scale' of FP8 weight 'w.weight' is I32; FP8 scales must be F32, BF16 or F16", e.Message);
    }

    [Fact]
    public void E5M2IsNotSupported()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        new SafetensorsWriter().AddRaw("w.weight", "F8_E5M2", [2, 3], new byte[6]).Write(path);
        var e = Assert.Throws<NotSupportedException>(() => Checkpoint.Open(tmp.Path));
        Assert.Equal($"{path}: tensor 'w.weight': unsupported dtype 'F8_E5M2' (supported: F32, BF16, F16, I32, F8_E4M3)", e.Message);
    }

    [Fact]
    public void Fp8TensorThatIsNotAMatrixIsNamed()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        new SafetensorsWriter()
            .Add("v.weight", DType.F8E4M3, [4], new byte[4])
            .Add("v.weight_scale", DType.F32, [], new byte[4])
            .Write(path);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.Equal($"{path}: FP8 tensor 'v.weight' has shape [4]; FP8 weights must be matrices [out features, in features]", e.Message);
    }

    [Fact]
    public void Bf16PerChannelScalesOfShapeNx1Read()
    {
        using var tmp = new TempDir();
        // Codes of 1, 2, 3 and 4 (E4M3 0x38, 0x40, 0x44, 0x48); scales 0.5 and 2 as bf16 (0x3F00, 0x4000).
        new SafetensorsWriter()
            .Add("w.weight", DType.F8E4M3, [2, 2], new byte[] { 0x38, 0x40, 0x44, 0x48 })
            .Add("w.weight_scale", DType.BF16, [2, 1], MemoryMarshal.AsBytes(new ushort[] { 0x3F00, 0x4000 }.AsSpan()).ToArray())
            .Write(tmp.File("model.safetensors"));
        using var checkpoint = Checkpoint.Open(tmp.Path);
        var rows = new byte[Fp8Weights.ByteCount(2, 2)];
        checkpoint.CopyRows("w.weight", 0, 2, rows);
        Assert.Equal([0.5f, 1, 6, 8], Fp8Weights.Dequantize(rows, 2));
    }

    /// <summary>Keeps every report, synchronously.</summary>
    private sealed class Collected : IProgress<TensorProgress>
    {
        public List<TensorProgress> Reports { get; } = [];

        public void Report(TensorProgress value) => Reports.Add(value);
    }
}

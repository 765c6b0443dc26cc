using System.Text;
using Granary.Compute.Cpu;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Engine.Tests;

/// <summary>GGUF checkpoints: a fixture written as an F32 GGUF gives the safetensors load's logits; broken files give clear errors.</summary>
public sealed class GgufModelTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("granary-gguf-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static LlmEngine Engine(string path)
    {
        var config = ModelConfig.Load(path);
        var backend = new CpuBackend(new CpuBackendOptions { Threads = 2 });
        using var checkpoint = Checkpoint.Open(path);
        var options = new EngineOptions { KvCacheBlocks = 64 };
        var model = LlamaModel.Load(config, checkpoint, backend, ShardSpec.Whole(config.NumLayers), options.MaxBatchedTokens, config.MaxPositionEmbeddings);
        return new LlmEngine(new SingleRankExecutor(model, backend), null, config.EosTokenIds, options);
    }

    private string WriteFixture(string fixture = "llama-tiny")
    {
        string path = Path.Combine(_work, fixture + ".gguf");
        GgufTestWriter.Write(TestData.Fixture(fixture), path);
        return path;
    }

    [Fact]
    public void F32GgufGivesTheSafetensorsLogits()
    {
        const string fixture = "llama-tiny";
        string gguf = WriteFixture(fixture);
        using var fromGguf = Engine(gguf);
        using var fromSafetensors = Engine(TestData.Fixture(fixture));
        Assert.Equal(ModelConfig.Load(TestData.Fixture(fixture)).VocabSize, ModelConfig.Load(gguf).VocabSize);
        foreach (var prompt in TestData.Reference(fixture).GetProperty("prompts").EnumerateArray())
        {
            int[] ids = TestData.Ints(prompt.GetProperty("ids"));
            int vocab = ModelConfig.Load(gguf).VocabSize;
            float[] a = LastLogits(fromGguf, ids, vocab), b = LastLogits(fromSafetensors, ids, vocab);
            float worst = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst <= 1e-4f, $"{fixture}: GGUF logits differ from safetensors by {worst}");
        }
    }

    private static float[] LastLogits(LlmEngine engine, int[] ids, int vocab)
    {
        engine.Add(ids, SamplingParams.Greedy(1));
        engine.Step();
        var logits = new float[vocab];
        engine.ReadLogits(0, logits);
        engine.RunToCompletion();
        return logits;
    }

    [Fact]
    public void TruncatedFileNamesTheTensorThatRunsPastTheEnd()
    {
        string path = WriteFixture();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(path));
        Assert.Contains("runs past the end of the file", e.Message);
        File.WriteAllBytes(path, bytes[..40]);
        e = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path));
        Assert.Contains("invalid GGUF", e.Message);
    }

    [Fact]
    public void CorruptMagicIsRefused()
    {
        string path = WriteFixture();
        byte[] bytes = File.ReadAllBytes(path);
        bytes[0] = (byte)'X';
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Load(path));
        Assert.Contains("not a GGUF file", e.Message);
    }

    [Fact]
    public void UnsupportedTensorTypeIsNamed()
    {
        string path = WriteFixture();
        byte[] bytes = File.ReadAllBytes(path);
        // The first tensor's type field follows its name, its dimension count and its two dimensions.
        int name = IndexOf(bytes, "token_embd.weight");
        BitConverter.TryWriteBytes(bytes.AsSpan(name + "token_embd.weight".Length + 4 + 16), 12u);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<NotSupportedException>(() => Checkpoint.Open(path));
        Assert.Contains("tensor 'token_embd.weight' has ggml type 12 (Q4_K)", e.Message);
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        string path = WriteFixture();
        byte[] bytes = File.ReadAllBytes(path);
        Encoding.ASCII.GetBytes("qwen2").CopyTo(bytes, IndexOf(bytes, "general.architecture") + "general.architecture".Length + 4 + 8);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<NotSupportedException>(() => ModelConfig.Load(path));
        Assert.Contains("GGUF architecture 'qwen2' is not supported", e.Message);
    }

    private static int IndexOf(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle));
}

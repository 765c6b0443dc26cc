using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Granary.Compute;
using Granary.Models.Checkpoints;
using Granary.Models.Llama2c;

namespace Granary.Checkpoints.Tests;

/// <summary>
/// The converted stories15M against Hugging Face's files for the same model (tests/data/stories15M/hf) and against
/// the llama2.c floats. Needs the weights (scripts/fetch-stories15m.sh); without them each test is reported as skipped.
/// </summary>
public class Stories15MTests(Stories15MFolder folder) : IClassFixture<Stories15MFolder>
{
    private const int Dim = 288, HeadSize = 48, Heads = 6;

    private string ConvertedFolder()
    {
        if (folder.Directory is null) Assert.Skip("stories15M not found (set GRANARY_STORIES15M or run scripts/fetch-stories15m.sh)");
        return folder.Directory;
    }

    private static JsonNode Json(string path) => JsonNode.Parse(File.ReadAllText(path))!;

    [Theory]
    [InlineData("config.json")]
    [InlineData("generation_config.json")]
    [InlineData("tokenizer_config.json")]
    [InlineData("tokenizer.json")]
    public void JsonFilesEqualHuggingFaces(string file)
    {
        string dir = ConvertedFolder();
        var ours = Json(Path.Combine(dir, file));
        var theirs = Json(Path.Combine(TestData.Stories15MHf, file));
        Assert.True(JsonNode.DeepEquals(ours, theirs), $"{file} differs from Hugging Face's");
    }

    [Fact]
    public void VocabularyAndMergesEqualHuggingFaces()
    {
        string dir = ConvertedFolder();
        var ours = Json(Path.Combine(dir, "tokenizer.json"))["model"]!;
        var theirs = Json(Path.Combine(TestData.Stories15MHf, "tokenizer.json"))["model"]!;
        Assert.True(JsonNode.DeepEquals(ours["vocab"], theirs["vocab"]));
        string[] Merges(JsonNode m) => m["merges"]!.AsArray().Select(p => (string)p![0]! + " " + (string)p[1]!).ToArray();
        var a = Merges(ours);
        var b = Merges(theirs);
        Assert.Equal(61249, b.Length);
        Assert.Equal(b.ToHashSet(), a.ToHashSet());
        Assert.Equal(b, a); // same ranks, not only the same set
    }

    [Fact]
    public void WeightsHaveHuggingFaceNamesAndShapes()
    {
        string dir = ConvertedFolder();
        var config = ModelConfig.Load(dir);
        using var c = Checkpoint.Open(dir);
        var expected = ExpectedTensors.For(config);
        foreach (var (name, shape) in expected) Assert.Equal(DType.F32, c.Require(name, shape).DType);
        Assert.Equal(expected.Keys.Order(), c.TensorNames.Order());
        Assert.False(c.Contains("lm_head.weight"));
        Assert.Equal(15_191_712, expected.Keys.Sum(n => c.Info(n).ElementCount));
    }

    [Fact]
    public void WeightsEqualTheLlama2cFloats()
    {
        string dir = ConvertedFolder();
        if (Stories15M.Llama2cDirectory is not { } src)
        {
            Assert.Skip("llama2.c stories15M.bin not found");
            return;
        }
        float[] bin = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(src, "stories15M.bin")).AsSpan(28)).ToArray();
        float[] BinRow(long floatOffset) => bin.AsSpan((int)floatOffset, Dim).ToArray();
        using var c = Checkpoint.Open(dir);
        float[] Row(string name, int row)
        {
            var b = new byte[Dim * 4];
            c.CopyRows(name, row, 1, b);
            return TestData.Floats(b);
        }

        const long vocab = 32000, layers = 6, hidden = 768;
        long wq = vocab * Dim + layers * Dim;  // after token_embedding and rms_att
        long wk = wq + layers * Dim * Dim;
        long wv = wk + layers * Dim * Dim;

        // Embedding row 1 (<s>) is the 2nd row of token_embedding.
        Assert.Equal(BinRow(1 * Dim), Row("model.embed_tokens.weight", 1));
        // q/k of layer 2, head 3: new row j < 24 is old row 2j, new row j >= 24 is old row 2(j - 24) + 1.
        for (int j = 0; j < HeadSize; j++)
        {
            int old = j < HeadSize / 2 ? 2 * j : 2 * (j - HeadSize / 2) + 1;
            Assert.Equal(BinRow(wq + 2L * Dim * Dim + (3 * HeadSize + old) * Dim), Row("model.layers.2.self_attn.q_proj.weight", 3 * HeadSize + j));
            Assert.Equal(BinRow(wk + 2L * Dim * Dim + (3 * HeadSize + old) * Dim), Row("model.layers.2.self_attn.k_proj.weight", 3 * HeadSize + j));
        }
        // v is not permuted.
        Assert.Equal(BinRow(wv + 5L * Dim * Dim + 100 * Dim), Row("model.layers.5.self_attn.v_proj.weight", 100));
        // model.norm.weight is rms_final, after wo, rms_ffn, w1, w2, w3.
        long rmsFinal = wv + layers * Dim * Dim * 2 + layers * Dim + 3 * layers * hidden * Dim;
        Assert.Equal(BinRow(rmsFinal), TestData.Floats(c.Bytes("model.norm.weight")));
        Assert.Equal(Heads * HeadSize, Dim);
    }
}

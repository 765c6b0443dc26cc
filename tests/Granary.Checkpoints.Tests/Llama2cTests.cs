using System.Text;
using System.Text.Json.Nodes;
using Granary.Compute;
using Granary.Models.Checkpoints;
using Granary.Models.Llama2c;

namespace Granary.Checkpoints.Tests;

/// <summary>Conversion of a tiny hand-made llama2.c checkpoint, whose every float is its own index.</summary>
public class Llama2cTests
{
    // dim 8, hidden 12, 2 layers, 2 heads of 4, 1 KV head, vocab 9, seq_len 4.
    private const int Dim = 8, Hidden = 12, Layers = 2, Heads = 2, KvHeads = 1, Vocab = 9, SeqLen = 4, HeadSize = 4, KvDim = 4;

    // Float offsets of each array, summed by hand from the format description.
    private const int Emb = 0;                              // 9 * 8 = 72
    private const int RmsAtt = 72;                          // 2 * 8 = 16
    private const int Wq = 88;                              // 2 * 8 * 8 = 128
    private const int Wk = 216;                             // 2 * 4 * 8 = 64
    private const int Wv = 280;                             // 64
    private const int Wo = 344;                             // 128
    private const int RmsFfn = 472;                         // 16
    private const int W1 = 488;                             // 2 * 12 * 8 = 192
    private const int W2 = 680;                             // 192
    private const int W3 = 872;                             // 192
    private const int RmsFinal = 1064;                      // 8
    private const int RopeTables = 1072;                    // 2 * 4 * 2 = 16
    private const int Classifier = 1088;                    // 72 when not shared
    private const int SharedFloats = 1088, UnsharedFloats = 1160;

    internal static string WriteCheckpoint(string path, bool shared, int? truncateFloats = null)
    {
        int n = truncateFloats ?? (shared ? SharedFloats : UnsharedFloats);
        using var w = new BinaryWriter(File.Create(path));
        foreach (int v in new[] { Dim, Hidden, Layers, Heads, KvHeads, shared ? Vocab : -Vocab, SeqLen }) w.Write(v);
        for (int i = 0; i < n; i++) w.Write((float)i);
        return path;
    }

    internal static string WriteTokenizer(string path, int count = Vocab)
    {
        (string Text, float Score)[] tokens =
        [
            ("<unk>", 0), ("\n<s>\n", 0), ("\n</s>\n", 0), (" ", -1), ("a", -2), ("b", -3), (" a", -5), ("ab", -4), (" ab", -6),
        ];
        using var w = new BinaryWriter(File.Create(path));
        w.Write(6);
        foreach (var (text, score) in tokens.Take(count))
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            w.Write(score);
            w.Write(bytes.Length);
            w.Write(bytes);
        }
        return path;
    }

    /// <summary>Floats [start, start + count) of the checkpoint: since float k is k, just a range.</summary>
    private static float[] Range(int start, int count) => Enumerable.Range(start, count).Select(i => (float)i).ToArray();

    private static float[] Rows(Checkpoint c, string name, int row, int count, int cols)
    {
        var b = new byte[count * cols * 4];
        c.CopyRows(name, row, count, b);
        return TestData.Floats(b);
    }

    [Fact]
    public void ConvertsWeightsWithHuggingFaceNamesAndRopePermutation()
    {
        using var tmp = new TempDir();
        string outDir = Path.Combine(tmp.Path, "hf");
        Llama2cConverter.Convert(WriteCheckpoint(tmp.File("m.bin"), shared: true), WriteTokenizer(tmp.File("t.bin")), outDir);

        var config = ModelConfig.Load(outDir);
        Assert.Equal(ModelArchitecture.Llama, config.Architecture);
        Assert.Equal((Dim, Hidden, Layers, Heads, KvHeads, HeadSize, Vocab, SeqLen),
            (config.HiddenSize, config.IntermediateSize, config.NumLayers, config.NumHeads, config.NumKvHeads, config.HeadDim, config.VocabSize, config.MaxPositionEmbeddings));
        Assert.True(config.TieWordEmbeddings);
        Assert.Equal(1e-5, config.RmsNormEps);
        Assert.Equal(new RopeConfig(10000), config.Rope);
        Assert.Equal(1, config.BosTokenId);
        Assert.Equal([2], config.EosTokenIds);

        using var c = Checkpoint.Open(outDir);
        var expected = ExpectedTensors.For(config);
        foreach (var (name, shape) in expected) Assert.Equal(DType.F32, c.Require(name, shape).DType);
        Assert.Equal(expected.Keys.Order(), c.TensorNames.Order());

        Assert.Equal(Range(Emb + 1 * Dim, Dim), Rows(c, "model.embed_tokens.weight", 1, 1, Dim));
        Assert.Equal(Range(RmsFinal, Dim), TestData.Floats(c.Bytes("model.norm.weight")));
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            // RoPE permutation with head size 4: new rows (h, 0..3) are old rows (h, 0), (h, 2), (h, 1), (h, 3).
            int[] order = [0, 2, 1, 3];
            for (int h = 0; h < Heads; h++)
                for (int j = 0; j < HeadSize; j++)
                    Assert.Equal(Range(Wq + l * Dim * Dim + (h * HeadSize + order[j]) * Dim, Dim), Rows(c, p + "self_attn.q_proj.weight", h * HeadSize + j, 1, Dim));
            for (int j = 0; j < HeadSize; j++)
                Assert.Equal(Range(Wk + l * KvDim * Dim + order[j] * Dim, Dim), Rows(c, p + "self_attn.k_proj.weight", j, 1, Dim));
            Assert.Equal(Range(Wv + l * KvDim * Dim, KvDim * Dim), TestData.Floats(c.Bytes(p + "self_attn.v_proj.weight")));
            Assert.Equal(Range(Wo + l * Dim * Dim, Dim * Dim), TestData.Floats(c.Bytes(p + "self_attn.o_proj.weight")));
            Assert.Equal(Range(W1 + l * Hidden * Dim, Hidden * Dim), TestData.Floats(c.Bytes(p + "mlp.gate_proj.weight")));
            Assert.Equal(Range(W2 + l * Dim * Hidden, Dim * Hidden), TestData.Floats(c.Bytes(p + "mlp.down_proj.weight")));
            Assert.Equal(Range(W3 + l * Hidden * Dim, Hidden * Dim), TestData.Floats(c.Bytes(p + "mlp.up_proj.weight")));
            Assert.Equal(Range(RmsAtt + l * Dim, Dim), TestData.Floats(c.Bytes(p + "input_layernorm.weight")));
            Assert.Equal(Range(RmsFfn + l * Dim, Dim), TestData.Floats(c.Bytes(p + "post_attention_layernorm.weight")));
        }
    }

    [Fact]
    public void SeparateClassifierBecomesLmHead()
    {
        using var tmp = new TempDir();
        string outDir = Path.Combine(tmp.Path, "hf");
        Llama2cConverter.Convert(WriteCheckpoint(tmp.File("m.bin"), shared: false), WriteTokenizer(tmp.File("t.bin")), outDir);
        var config = ModelConfig.Load(outDir);
        Assert.False(config.TieWordEmbeddings);
        using var c = Checkpoint.Open(outDir);
        c.Require("lm_head.weight", Vocab, Dim);
        Assert.Equal(Range(Classifier, Vocab * Dim), TestData.Floats(c.Bytes("lm_head.weight")));
        Assert.Equal(Range(Emb, Vocab * Dim), TestData.Floats(c.Bytes("model.embed_tokens.weight")));
        Assert.True(RopeTables < Classifier);
    }

    [Fact]
    public void TokenizerJsonHasPiecesAndScoreRankedMerges()
    {
        using var tmp = new TempDir();
        string outDir = Path.Combine(tmp.Path, "hf");
        Llama2cConverter.Convert(WriteCheckpoint(tmp.File("m.bin"), shared: true), WriteTokenizer(tmp.File("t.bin")), outDir);
        var tok = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "tokenizer.json")))!;
        var vocab = tok["model"]!["vocab"]!.AsObject();
        Assert.Equal(["<unk>", "<s>", "</s>", "▁", "a", "b", "▁a", "ab", "▁ab"], vocab.Select(kv => kv.Key));
        Assert.Equal(Enumerable.Range(0, 9), vocab.Select(kv => (int)kv.Value!));
        // Ranked by the merged piece's score (ab -4, ▁a -5, ▁ab -6); splits of one piece by the left part's id.
        var merges = tok["model"]!["merges"]!.AsArray().Select(m => ((string)m![0]!, (string)m[1]!));
        Assert.Equal([("a", "b"), ("▁", "a"), ("▁", "ab"), ("▁a", "b")], merges);
        Assert.False((bool)tok["model"]!["byte_fallback"]!);
        Assert.Equal(1, (int)tok["post_processor"]!["special_tokens"]!["<s>"]!["ids"]![0]!);
    }

    [Fact]
    public void TruncatedCheckpointIsRejected()
    {
        using var tmp = new TempDir();
        string bin = WriteCheckpoint(tmp.File("m.bin"), shared: true, truncateFloats: 1000);
        var e = Assert.Throws<InvalidDataException>(() => Llama2cConverter.Convert(bin, WriteTokenizer(tmp.File("t.bin")), tmp.File("out")));
        Assert.StartsWith($"{bin}: {28 + 4000} bytes, but a llama2.c checkpoint", e.Message);
        Assert.False(File.Exists(Path.Combine(tmp.File("out"), "config.json")));
    }

    [Fact]
    public void TokenizerOfAnotherVocabularyIsRejected()
    {
        using var tmp = new TempDir();
        string tok = WriteTokenizer(tmp.File("t.bin"), count: 8);
        var e = Assert.Throws<InvalidDataException>(() =>
            Llama2cConverter.Convert(WriteCheckpoint(tmp.File("m.bin"), shared: true), tok, tmp.File("out")));
        Assert.Equal($"{tok}: holds 8 tokens, but the checkpoint's vocab_size is 9", e.Message);
    }

    [Fact]
    public void MergesFollowScoresThenVocabularyOrder()
    {
        // Equal scores keep vocabulary order; a piece with no split in the vocabulary gives no merge.
        var merges = SentencePieceMerges.Extract(["a", "b", "c", "bc", "ab", "abc", "xy"], [0, 0, 0, -1, -1, -2, -1]);
        Assert.Equal([("b", "c"), ("a", "b"), ("a", "bc"), ("ab", "c")], merges);
    }
}

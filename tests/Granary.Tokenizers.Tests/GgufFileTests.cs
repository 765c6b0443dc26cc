using System.IO.Compression;
using Granary.Tokenizers.Gguf;

namespace Granary.Tokenizers.Tests;

public class GgufFileTests
{
    private static GgufFile Read(string name)
    {
        using var fs = File.OpenRead(TestData.Path_("tokenizers", name + ".gz"));
        using var gz = new GZipStream(fs, CompressionMode.Decompress);
        return GgufFile.Read(gz, name);
    }

    [Fact]
    public void ReadsHeaderAndMetadataOfAVocabularyFile()
    {
        var f = Read("ggml-vocab-llama-spm.gguf");
        Assert.Equal(3u, f.Version);
        Assert.Empty(f.Tensors); // vocabulary-only file
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal("llama", f.GetString("tokenizer.ggml.model"));
        var tokens = f.GetArray<string>("tokenizer.ggml.tokens")!;
        Assert.Equal(32000, tokens.Length);
        Assert.Equal("<unk>", tokens[0]);
        Assert.Equal(32000, f.GetArray<float>("tokenizer.ggml.scores")!.Length);
        Assert.Equal(GgufValueType.Array, f.Metadata["tokenizer.ggml.token_type"].Type);
        Assert.Equal(GgufValueType.Int32, f.Metadata["tokenizer.ggml.token_type"].ElementType);
        Assert.Equal(1, f.GetInt64("tokenizer.ggml.bos_token_id"));
        Assert.Equal(0, f.DataOffset % f.Alignment);
        Assert.Throws<InvalidDataException>(() => f.GetString("tokenizer.ggml.bos_token_id"));
    }

    [Fact]
    public void ReadsEveryValueTypeAndTensorInfos()
    {
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            void Str(string s) { var b = System.Text.Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
            void Key(string k, GgufValueType t) { Str(k); w.Write((uint)t); }
            w.Write(0x46554747u); w.Write(2u); w.Write(1UL); w.Write(14UL);
            Key("u8", GgufValueType.UInt8); w.Write((byte)200);
            Key("i8", GgufValueType.Int8); w.Write((sbyte)-5);
            Key("u16", GgufValueType.UInt16); w.Write((ushort)60000);
            Key("i16", GgufValueType.Int16); w.Write((short)-30000);
            Key("u32", GgufValueType.UInt32); w.Write(4000000000u);
            Key("i32", GgufValueType.Int32); w.Write(-7);
            Key("f32", GgufValueType.Float32); w.Write(1.5f);
            Key("bool", GgufValueType.Bool); w.Write((byte)1);
            Key("str", GgufValueType.String); Str("héllo");
            Key("u64", GgufValueType.UInt64); w.Write(ulong.MaxValue);
            Key("i64", GgufValueType.Int64); w.Write(long.MinValue);
            Key("f64", GgufValueType.Float64); w.Write(2.25);
            Key("general.alignment", GgufValueType.UInt32); w.Write(64u);
            Key("nested", GgufValueType.Array); w.Write((uint)GgufValueType.Array); w.Write(2UL);
            w.Write((uint)GgufValueType.Int16); w.Write(2UL); w.Write((short)1); w.Write((short)2);
            w.Write((uint)GgufValueType.String); w.Write(1UL); Str("x");
            Str("blk.0.attn_q.weight"); w.Write(2u); w.Write(288UL); w.Write(288UL); w.Write(0u); w.Write(0UL);
        }
        long headerEnd = ms.Length;
        ms.Position = 0;
        var f = GgufFile.Read(ms, "synthetic");
        Assert.Equal(2u, f.Version);
        Assert.Equal((byte)200, f.Metadata["u8"].Value);
        Assert.Equal(-5, f.GetInt64("i8"));
        Assert.Equal(60000, f.GetInt64("u16"));
        Assert.Equal(-30000, f.GetInt64("i16"));
        Assert.Equal(4000000000L, f.GetInt64("u32"));
        Assert.Equal(-7, f.GetInt64("i32"));
        Assert.Equal(1.5, f.Metadata["f32"].AsDouble());
        Assert.True(f.GetBool("bool"));
        Assert.Equal("héllo", f.GetString("str"));
        Assert.Equal(ulong.MaxValue, f.Metadata["u64"].Value);
        Assert.Equal(long.MinValue, f.GetInt64("i64"));
        Assert.Equal(2.25, f.Metadata["f64"].AsDouble());
        var nested = f.GetArray<GgufValue>("nested")!;
        Assert.Equal(new short[] { 1, 2 }, nested[0].AsArray<short>());
        Assert.Equal(["x"], nested[1].AsArray<string>());
        var t = Assert.Single(f.Tensors);
        Assert.Equal("blk.0.attn_q.weight", t.Name);
        Assert.Equal([288UL, 288UL], t.Dimensions);
        Assert.Equal(64u, f.Alignment);
        Assert.Equal((headerEnd + 63) / 64 * 64, f.DataOffset);
    }

    [Fact]
    public void RejectsBadMagicAndVersion()
    {
        Assert.Throws<InvalidDataException>(() => GgufFile.Read(new MemoryStream([1, 2, 3, 4, 3, 0, 0, 0]), "x"));
        var ms = new MemoryStream();
        new BinaryWriter(ms).Write(0x46554747u);
        new BinaryWriter(ms).Write(1u);
        ms.Position = 0;
        var e = Assert.Throws<InvalidDataException>(() => GgufFile.Read(ms, "old.gguf"));
        Assert.Contains("old.gguf", e.Message);
    }
}

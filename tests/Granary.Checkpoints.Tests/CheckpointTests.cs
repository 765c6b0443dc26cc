using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Models.Checkpoints;

namespace Granary.Checkpoints.Tests;

/// <summary>Checkpoint folders (single file, sharded, several files), validated access and slices.</summary>
public class CheckpointTests
{
    /// <summary>A [4, 5] F32 matrix with value 10 * row + column, a [6] vector and a [3, 4] BF16 matrix.</summary>
    private static void WriteSliceModel(string path)
    {
        var m = new float[20];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 5; c++)
                m[r * 5 + c] = 10 * r + c;
        var bf = new ushort[12];
        for (int i = 0; i < 12; i++) bf[i] = (ushort)(0x100 * i + 1);
        new SafetensorsWriter()
            .Add("m", DType.F32, [4, 5], TestData.Bytes(m))
            .Add("v", DType.F32, [6], TestData.Bytes(0, 1, 2, 3, 4, 5))
            .Add("bf", DType.BF16, [3, 4], MemoryMarshal.AsBytes(bf.AsSpan()).ToArray())
            .Write(path);
    }

    [Fact]
    public void CopyRowsAndColumnsMatchHandComputedSlices()
    {
        using var tmp = new TempDir();
        WriteSliceModel(tmp.File("model.safetensors"));
        using var ckpt = Checkpoint.Open(tmp.Path);

        var rows = new byte[2 * 5 * 4];
        ckpt.CopyRows("m", 1, 2, rows);
        Assert.Equal([10f, 11, 12, 13, 14, 20, 21, 22, 23, 24], TestData.Floats(rows));

        var cols = new byte[4 * 3 * 4];
        ckpt.CopyColumns("m", 1, 3, cols);
        Assert.Equal([1f, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33], TestData.Floats(cols));

        var last = new byte[4 * 4];
        ckpt.CopyColumns("m", 4, 1, last);
        Assert.Equal([4f, 14, 24, 34], TestData.Floats(last));

        var elems = new byte[3 * 4];
        ckpt.CopyRows("v", 2, 3, elems);
        Assert.Equal([2f, 3, 4], TestData.Floats(elems));

        // 2-byte elements: columns 2..3 of each row of bf (element i = 0x100 * i + 1).
        var bcols = new byte[3 * 2 * 2];
        ckpt.CopyColumns("bf", 2, 2, bcols);
        Assert.Equal(new ushort[] { 0x201, 0x301, 0x601, 0x701, 0xA01, 0xB01 }, MemoryMarshal.Cast<byte, ushort>(bcols).ToArray());

        ckpt.CopyRows("m", 4, 0, Span<byte>.Empty);
    }

    [Fact]
    public void SliceArgumentsAreChecked()
    {
        using var tmp = new TempDir();
        WriteSliceModel(tmp.File("model.safetensors"));
        using var ckpt = Checkpoint.Open(tmp.Path);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ckpt.CopyRows("m", 3, 2, new byte[40]));
        Assert.Contains("tensor 'm' of shape [4, 5]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ckpt.CopyColumns("m", -1, 2, new byte[32]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ckpt.CopyColumns("m", 4, 2, new byte[32]));
        Assert.Throws<ArgumentException>(() => ckpt.CopyRows("m", 0, 1, new byte[19]));
        Assert.Throws<ArgumentException>(() => ckpt.CopyColumns("v", 0, 1, new byte[4]));
        Assert.Throws<InvalidDataException>(() => ckpt.CopyRows("nope", 0, 1, new byte[4]));
    }

    [Fact]
    public void MissingTensorAndWrongShape()
    {
        using var tmp = new TempDir();
        string file = tmp.File("model.safetensors");
        WriteSliceModel(file);
        using var ckpt = Checkpoint.Open(tmp.Path);

        Assert.True(ckpt.Contains("m"));
        Assert.False(ckpt.Contains("model.norm.weight"));
        var e = Assert.Throws<InvalidDataException>(() => ckpt.Require("model.norm.weight", 5));
        Assert.Equal($"{tmp.Path}: missing tensor 'model.norm.weight'", e.Message);
        e = Assert.Throws<InvalidDataException>(() => ckpt.Info("model.norm.weight"));
        Assert.Equal($"{tmp.Path}: missing tensor 'model.norm.weight'", e.Message);

        e = Assert.Throws<InvalidDataException>(() => ckpt.Require("m", 5, 4));
        Assert.Equal($"{file}: tensor 'm' has shape [4, 5], expected [5, 4]", e.Message);

        var info = ckpt.Require("m", 4, 5);
        Assert.Equal(new TensorInfo("m", DType.F32, info.Shape, file) with { }, info);
        Assert.Equal(80, info.ByteLength);
    }

    private static void WriteShards(TempDir tmp)
    {
        new SafetensorsWriter()
            .Add("model.embed_tokens.weight", DType.F32, [2, 2], TestData.Bytes(1, 2, 3, 4))
            .Write(tmp.File("model-00001-of-00002.safetensors"));
        new SafetensorsWriter()
            .Add("model.norm.weight", DType.F32, [2], TestData.Bytes(5, 6))
            .Add("lm_head.weight", DType.F32, [2, 2], TestData.Bytes(7, 8, 9, 10))
            .Write(tmp.File("model-00002-of-00002.safetensors"));
    }

    private const string Index = """
        {"metadata": {"total_size": 40}, "weight_map": {
          "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
          "model.norm.weight": "model-00002-of-00002.safetensors",
          "lm_head.weight": "model-00002-of-00002.safetensors"}}
        """;

    [Fact]
    public void ShardedCheckpoint()
    {
        using var tmp = new TempDir();
        WriteShards(tmp);
        File.WriteAllText(tmp.File("model.safetensors.index.json"), Index);
        using var ckpt = Checkpoint.Open(tmp.Path);
        Assert.Equal(3, ckpt.TensorNames.Count);
        Assert.Equal(tmp.File("model-00002-of-00002.safetensors"), ckpt.Info("lm_head.weight").File);
        Assert.Equal([9f, 10], TestData.Floats(ckpt.Bytes("lm_head.weight")[8..]));
        var row = new byte[8];
        ckpt.CopyRows("model.embed_tokens.weight", 1, 1, row);
        Assert.Equal([3f, 4], TestData.Floats(row));
    }

    [Fact]
    public void MissingShardNamesIndexShardAndTensor()
    {
        using var tmp = new TempDir();
        WriteShards(tmp);
        File.WriteAllText(tmp.File("model.safetensors.index.json"), Index);
        File.Delete(tmp.File("model-00002-of-00002.safetensors"));
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Open(tmp.Path));
        Assert.StartsWith(tmp.File("model.safetensors.index.json"), e.Message);
        Assert.Contains("shard 'model-00002-of-00002.safetensors'", e.Message);
        Assert.Contains("'model.norm.weight'", e.Message);
    }

    [Fact]
    public void IndexListingATensorTheShardLacks()
    {
        using var tmp = new TempDir();
        WriteShards(tmp);
        File.WriteAllText(tmp.File("model.safetensors.index.json"),
            Index.Replace("\"lm_head.weight\": \"model-00002", "\"lm_head.weight\": \"model-00001"));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.StartsWith($"{tmp.File("model-00001-of-00002.safetensors")}: tensor 'lm_head.weight' is listed", e.Message);
    }

    [Fact]
    public void MalformedIndex()
    {
        using var tmp = new TempDir();
        WriteShards(tmp);
        File.WriteAllText(tmp.File("model.safetensors.index.json"), """{"weight_map": {"a": 3}}""");
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.Equal($"{tmp.File("model.safetensors.index.json")}: field 'weight_map.a' must be a file name, got a number (3)", e.Message);
    }

    [Fact]
    public void SeveralFilesWithoutIndex()
    {
        using var tmp = new TempDir();
        WriteShards(tmp);
        using var ckpt = Checkpoint.Open(tmp.Path);
        Assert.Equal(3, ckpt.TensorNames.Count);
        Assert.Equal(2, ckpt.Files.Count);
    }

    [Fact]
    public void TensorInTwoFiles()
    {
        using var tmp = new TempDir();
        WriteShards(tmp);
        new SafetensorsWriter().Add("model.norm.weight", DType.F32, [2], TestData.Bytes(1, 2)).Write(tmp.File("extra.safetensors"));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.Contains("'model.norm.weight'", e.Message);
    }

    [Fact]
    public void FolderWithoutWeights()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Open(tmp.Path));
        Assert.StartsWith($"{tmp.Path}: no weights found", e.Message);
        var d = Assert.Throws<DirectoryNotFoundException>(() => Checkpoint.Open(tmp.File("nope")));
        Assert.Contains(tmp.File("nope"), d.Message);
    }

    [Fact]
    public void UnknownArchitectureInAFolder()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("config.json"), """{"architectures": ["FalconForCausalLM"], "hidden_size": 8}""");
        var e = Assert.Throws<NotSupportedException>(() => ModelConfig.Load(tmp.Path));
        Assert.StartsWith($"{tmp.File("config.json")}: architecture 'FalconForCausalLM' is not supported (supported: ", e.Message);
    }
}

using System.Buffers.Binary;
using System.Text;
using Granary.Compute;
using Granary.Models.Checkpoints;

namespace Granary.Checkpoints.Tests;

/// <summary>The safetensors writer and reader, and the error each malformed file gives.</summary>
public class SafetensorsTests
{
    private static void WriteTwoTensors(string path)
    {
        var w = new SafetensorsWriter();
        w.Add("a", DType.F32, [2, 3], TestData.Bytes(0, 1, 2, 3, 4, 5));
        w.Add("b", DType.F32, [4], TestData.Bytes(6, 7, 8, 9));
        w.Write(path);
    }

    [Fact]
    public void RoundTrip()
    {
        using var tmp = new TempDir();
        string path = tmp.File("m.safetensors");
        var w = new SafetensorsWriter();
        w.Metadata["format"] = "pt";
        w.Add("half", DType.F16, [3], new byte[] { 1, 2, 3, 4, 5, 6 });
        w.Add("x", DType.F32, [2, 2], TestData.Bytes(1, 2, 3, 4));
        w.Add("ids", DType.I32, [1], BitConverter.GetBytes(7));
        w.Add("bf", DType.BF16, [2], s => s.Write(new byte[] { 9, 8, 7, 6 }));
        w.Add("empty", DType.F32, [0, 4], Array.Empty<byte>());
        w.Write(path);

        using var f = SafetensorsFile.Open(path);
        Assert.Equal(0, f.DataOffset % 8);
        Assert.Equal("pt", f.Metadata["format"]);
        // Wider element types first; ties keep the order they were added in.
        Assert.Equal(["x", "ids", "empty", "half", "bf"], f.Tensors.Select(t => t.Name));
        Assert.Equal([1f, 2, 3, 4], TestData.Floats(f.Bytes("x")));
        Assert.Equal(7, BitConverter.ToInt32(f.Bytes("ids")));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, f.Bytes("half").ToArray());
        Assert.Equal(new byte[] { 9, 8, 7, 6 }, f.Bytes("bf").ToArray());
        Assert.Equal(0, f.Bytes("empty").Length);
        var bf = f.GetTensor("bf");
        Assert.Equal(DType.BF16, bf.DType);
        Assert.Equal([2L], bf.Shape);
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void WriterRejectsWrongByteCount()
    {
        var e = Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("w", DType.F32, [3], new byte[8]));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void TruncatedFileNamesFileAndTensor()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        WriteTwoTensors(path);
        using (var s = new FileStream(path, FileMode.Open)) s.SetLength(s.Length - 5);

        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.StartsWith($"{path}: tensor 'b' needs bytes [24, 40) of the data section, but the file holds only 35 bytes", e.Message);
        Assert.Contains("truncated", e.Message);

        // The same error through the checkpoint.
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(tmp.Path));
        Assert.Contains($"{path}: tensor 'b'", e.Message);
    }

    [Fact]
    public void HeaderLengthBeyondTheFile()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        WriteTwoTensors(path);
        long size = new FileInfo(path).Length;
        using (var s = new FileStream(path, FileMode.Open))
        {
            var len = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, 1_000_000);
            s.Write(len);
        }
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Equal($"{path}: header length 1000000 bytes goes beyond the end of the file ({size} bytes): truncated or not a safetensors file", e.Message);
    }

    [Fact]
    public void TooShortFile()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void MalformedHeaderJson()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        WriteTwoTensors(path);
        var bytes = File.ReadAllBytes(path);
        int brace = Array.LastIndexOf(bytes, (byte)'}', 8 + (int)BitConverter.ToUInt64(bytes) - 1);
        bytes[brace] = (byte)','; // the header no longer closes
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.StartsWith($"{path}: malformed safetensors header JSON", e.Message);
    }

    [Fact]
    public void UnknownDtypeNamesTheTensor()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        new SafetensorsWriter()
            .Add("ok", DType.F32, [1], TestData.Bytes(1))
            .AddRaw("doubles", "F64", [2], new byte[16])
            .Write(path);
        var e = Assert.Throws<NotSupportedException>(() => SafetensorsFile.Open(path));
        Assert.Equal($"{path}: tensor 'doubles': unsupported dtype 'F64' (supported: F32, BF16, F16, I32, F8_E4M3)", e.Message);
    }

    [Fact]
    public void ByteCountNotMatchingShape()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        new SafetensorsWriter().AddRaw("w", "F32", [3], new byte[8]).Write(path);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Equal($"{path}: tensor 'w': data_offsets [0, 8) hold 8 bytes, but shape [3] of F32 needs 12", e.Message);
    }

    [Fact]
    public void HeaderThatIsNotAnObject()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        var header = Encoding.UTF8.GetBytes("[1, 2, 3]");
        var len = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        File.WriteAllBytes(path, [.. len, .. header]);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.StartsWith($"{path}: safetensors header must be a JSON object", e.Message);
    }

    [Fact]
    public void BytesAfterDisposeThrow()
    {
        using var tmp = new TempDir();
        string path = tmp.File("model.safetensors");
        WriteTwoTensors(path);
        var f = SafetensorsFile.Open(path);
        var t = f.GetTensor("a");
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.Bytes(t).Length);
    }
}

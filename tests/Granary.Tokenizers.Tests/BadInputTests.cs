using System.IO.Compression;
using Granary.Tokenizers.Gguf;

namespace Granary.Tokenizers.Tests;

public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("granary-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void MissingFileNamesTheFile()
    {
        string path = Path.Combine(_dir, "nope", "tokenizer.json");
        var e = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains(path, e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => TokenizerLoader.FromModelDirectory(Path.Combine(_dir, "nope")));
        var e2 = Assert.Throws<FileNotFoundException>(() => TokenizerLoader.FromModelDirectory(_dir));
        Assert.Contains("tokenizer.json", e2.Message);
    }

    [Fact]
    public void MalformedJsonNamesTheFile()
    {
        string path = Write("tokenizer.json", "{ \"model\": { \"type\": \"BPE\", \"vocab\": { \"a\": 0, ");
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingVocabNamesTheFile()
    {
        string path = Write("tokenizer.json", "{ \"model\": { \"type\": \"BPE\" } }");
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("vocab", e.Message);
    }

    [Fact]
    public void UnsupportedModelTypeNamesTheFile()
    {
        string path = Write("tokenizer.json", "{ \"model\": { \"type\": \"Unigram\", \"vocab\": [] } }");
        var e = Assert.Throws<NotSupportedException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("Unigram", e.Message);
    }

    [Fact]
    public void NotAGgufFile()
    {
        string path = Write("model.gguf", "this is not gguf");
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void TruncatedGgufFile()
    {
        using var fs = File.OpenRead(TestData.Path_("tokenizers", "ggml-vocab-llama-spm.gguf.gz"));
        using var gz = new GZipStream(fs, CompressionMode.Decompress);
        var ms = new MemoryStream();
        gz.CopyTo(ms);
        string path = Path.Combine(_dir, "truncated.gguf");
        File.WriteAllBytes(path, ms.ToArray()[..100_000]);
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void GgufWithUnsupportedTokenizerModel()
    {
        string path = Path.Combine(_dir, "bert.gguf");
        using (var w = new BinaryWriter(File.Create(path)))
        {
            w.Write(0x46554747u); w.Write(3u); w.Write(0UL); w.Write(2UL);
            WriteString(w, "tokenizer.ggml.model"); w.Write((uint)GgufValueType.String); WriteString(w, "bert");
            WriteString(w, "tokenizer.ggml.tokens"); w.Write((uint)GgufValueType.Array); w.Write((uint)GgufValueType.String); w.Write(1UL); WriteString(w, "[CLS]");
        }
        var e = Assert.Throws<NotSupportedException>(() => TokenizerLoader.FromFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("bert", e.Message);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = System.Text.Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    [Fact]
    public void DecodeRejectsIdsOutOfRange()
    {
        var tok = TestData.Gguf("ggml-vocab-llama-spm.gguf");
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([5, 32000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([-1]));
        Assert.Null(tok.IdToToken(32000));
    }
}

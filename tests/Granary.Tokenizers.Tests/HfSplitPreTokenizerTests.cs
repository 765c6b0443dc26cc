using System.IO.Compression;
using System.Text.Json;
using Granary.Tokenizers.Gguf;

namespace Granary.Tokenizers.Tests;

/// <summary>
/// tokenizer.json files laid out as Hugging Face ships Llama 3 and Qwen2 (pre_tokenizer Sequence of a Split regex
/// and ByteLevel without regex, merges as pairs or strings, ignore_merges), built here from the vocabulary and merges
/// of the GGUF test files, must reproduce llama.cpp's expected ids for those vocabularies.
/// </summary>
public sealed class HfSplitPreTokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("granary-hf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    [Theory]
    [InlineData("ggml-vocab-llama-bpe.gguf", Llama3Regex, true, true)]
    [InlineData("ggml-vocab-qwen2.gguf", Qwen2Regex, false, false)]
    public void TokenizerJsonWithSplitRegexMatchesLlamaCppVectors(string vocab, string regex, bool ignoreMerges, bool mergesAsPairs)
    {
        GgufFile gguf;
        using (var fs = File.OpenRead(TestData.Path_("tokenizers", vocab + ".gz")))
        using (var gz = new GZipStream(fs, CompressionMode.Decompress))
            gguf = GgufFile.Read(gz, vocab);
        string[] tokens = gguf.GetArray<string>("tokenizer.ggml.tokens")!;
        int[] types = gguf.GetArray<int>("tokenizer.ggml.token_type")!;
        string[] merges = gguf.GetArray<string>("tokenizer.ggml.merges")!;

        string path = Path.Combine(_dir, "tokenizer.json");
        using (var stream = File.Create(path))
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteStartArray("added_tokens");
            for (int i = 0; i < tokens.Length; i++)
            {
                if (types[i] != 3) continue; // control tokens
                w.WriteStartObject();
                w.WriteNumber("id", i); w.WriteString("content", tokens[i]);
                w.WriteBoolean("single_word", false); w.WriteBoolean("lstrip", false); w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false); w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject(); w.WriteString("type", "Split");
            w.WriteStartObject("pattern"); w.WriteString("Regex", regex); w.WriteEndObject();
            w.WriteString("behavior", "Isolated"); w.WriteBoolean("invert", false); w.WriteEndObject();
            w.WriteStartObject(); w.WriteString("type", "ByteLevel"); w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true); w.WriteBoolean("use_regex", false); w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartObject("post_processor"); w.WriteString("type", "ByteLevel"); w.WriteEndObject();
            w.WriteStartObject("decoder"); w.WriteString("type", "ByteLevel"); w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE"); w.WriteBoolean("byte_fallback", false); w.WriteBoolean("ignore_merges", ignoreMerges);
            w.WriteStartObject("vocab");
            for (int i = 0; i < tokens.Length; i++) if (types[i] != 3) w.WriteNumber(tokens[i], i);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (string m in merges)
            {
                if (!mergesAsPairs) { w.WriteStringValue(m); continue; }
                int sp = m.IndexOf(' ', 1);
                w.WriteStartArray(); w.WriteStringValue(m[..sp]); w.WriteStringValue(m[(sp + 1)..]); w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        var tok = TokenizerLoader.FromFile(path);
        var failures = new List<string>();
        var tests = TestData.ReadVocabTests(vocab);
        foreach (var (text, expected) in tests)
        {
            int[] actual = tok.Encode(text, addSpecialTokens: false);
            if (!actual.SequenceEqual(expected)) failures.Add($"'{text}': expected {TestData.Show(expected)} got {TestData.Show(actual)}");
            Assert.Equal(text, tok.Decode(expected));
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {tests.Count} differ:\n" + string.Join("\n", failures));
    }
}

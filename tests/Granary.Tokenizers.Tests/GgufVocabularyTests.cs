namespace Granary.Tokenizers.Tests;

/// <summary>llama.cpp's own tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out).</summary>
public class GgufVocabularyTests
{
    public static TheoryData<string> Vocabularies => new()
    {
        "ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf",
        "ggml-vocab-qwen2.gguf", "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-phi-3.gguf",
        "ggml-vocab-falcon.gguf", "ggml-vocab-starcoder.gguf", "ggml-vocab-mpt.gguf",
    };

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void EncodesEveryTestVector(string vocab)
    {
        var tok = TestData.Gguf(vocab);
        var failures = new List<string>();
        var tests = TestData.ReadVocabTests(vocab);
        foreach (var (text, expected) in tests)
        {
            int[] actual = tok.Encode(text, addSpecialTokens: false);
            if (!actual.SequenceEqual(expected))
                failures.Add($"'{text.ReplaceLineEndings("\\n")}': expected {TestData.Show(expected)} got {TestData.Show(actual)}");
        }
        Assert.True(failures.Count == 0, $"{vocab}: {failures.Count} of {tests.Count} differ:\n" + string.Join("\n", failures));
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void DecodeRoundTripsTestVectors(string vocab)
    {
        var tok = TestData.Gguf(vocab);
        foreach (var (text, expected) in TestData.ReadVocabTests(vocab))
        {
            // SentencePiece vocabularies strip the one space they prepend; others give the text back as is.
            string decoded = tok.Decode(expected);
            Assert.Equal(text, decoded);
        }
    }

    [Fact]
    public void MetadataOfLlamaSpm()
    {
        var tok = TestData.Gguf("ggml-vocab-llama-spm.gguf");
        Assert.Equal(32000, tok.VocabSize);
        Assert.Equal(1, tok.BosTokenId);
        Assert.Contains(2, tok.EosTokenIds);
        Assert.Equal([1, 15043], tok.Encode("Hello"));
        Assert.True(tok.IsSpecial(1));
        Assert.False(tok.IsSpecial(15043));
        Assert.Equal("▁Hello", tok.IdToToken(15043));
        Assert.Equal(13, tok.TokenToId("<0x0A>"));
    }

    [Fact]
    public void MetadataOfLlama3()
    {
        var tok = TestData.Gguf("ggml-vocab-llama-bpe.gguf");
        Assert.Equal(128256, tok.VocabSize);
        Assert.Equal(128000, tok.BosTokenId);
        Assert.Contains(128001, tok.EosTokenIds); // <|end_of_text|>
        Assert.Contains(128009, tok.EosTokenIds); // <|eot_id|>
        Assert.Equal([128000, 9906, 1917], tok.Encode("Hello world"));
        // Control tokens written in the text are single tokens unless special parsing is off.
        Assert.Equal([128000, 128006, 882, 128007], tok.Encode("<|start_header_id|>user<|end_header_id|>"));
        Assert.NotEqual([128006], tok.Encode("<|start_header_id|>", false, parseSpecial: false));
        Assert.Equal("<|start_header_id|>user", tok.Decode([128006, 882], skipSpecialTokens: false));
        Assert.Equal("user", tok.Decode([128006, 882]));
    }
}

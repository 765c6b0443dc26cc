namespace Granary.Tokenizers.Tests;

/// <summary>The real Llama 2 tokenizer.json against llama.cpp's llama-spm test vectors.</summary>
public class Stories15MTests
{
    private static readonly Lazy<ITokenizer> s_tok = new(() => TokenizerLoader.FromModelDirectory(TestData.Path_("stories15M", "hf")));

    [Fact]
    public void Llama2TokenizerJsonMatchesLlamaCppVectors()
    {
        var tok = s_tok.Value;
        var tests = TestData.ReadVocabTests("ggml-vocab-llama-spm.gguf");
        var failures = new List<string>();
        foreach (var (text, expected) in tests)
        {
            int[] actual = tok.Encode(text, addSpecialTokens: false);
            if (!actual.SequenceEqual(expected)) failures.Add($"'{text}': expected {TestData.Show(expected)} got {TestData.Show(actual)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {tests.Count} differ:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void AddsBosAndDecodesWithoutLeadingSpace()
    {
        var tok = s_tok.Value;
        Assert.Equal([1, 9038, 2501, 263, 931], tok.Encode("Once upon a time"));
        Assert.Equal("Once upon a time", tok.Decode([1, 9038, 2501, 263, 931]));
        Assert.Equal("<s> Once upon a time", tok.Decode([1, 9038, 2501, 263, 931], skipSpecialTokens: false));
        Assert.Equal(1, tok.BosTokenId);
        Assert.Equal([2], tok.EosTokenIds);
        Assert.Equal(32000, tok.VocabSize);
    }

    [Fact]
    public void SpecialTokensInTextAreSingleTokens()
    {
        var tok = s_tok.Value;
        int[] ids = tok.Encode("Hi</s>there", addSpecialTokens: false);
        Assert.Contains(2, ids);
        Assert.DoesNotContain(2, tok.Encode("Hi</s>there", addSpecialTokens: false, parseSpecial: false));
    }
}

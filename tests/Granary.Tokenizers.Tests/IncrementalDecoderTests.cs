namespace Granary.Tokenizers.Tests;

public class IncrementalDecoderTests
{
    private const string MultiByteText = "emoji 🙂🦙 and 😶‍🌫️, accents: café naïve, 多机多卡推理, нещо на Български, ∑x² ≤ 1";

    public static TheoryData<string> Vocabularies => new()
    {
        "ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf",
    };

    private static void AssertStreamsLikeDecode(ITokenizer tok, int[] ids, bool skipSpecial = true)
    {
        string whole = tok.Decode(ids, skipSpecial);
        var inc = new IncrementalDecoder(tok, skipSpecial);
        var parts = new List<string>();
        foreach (int id in ids)
        {
            string part = inc.Append(id);
            Assert.DoesNotContain('\uFFFD', part);
            parts.Add(part);
        }
        parts.Add(inc.Flush());
        Assert.Equal(whole, string.Concat(parts));
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void StreamingEqualsDecodeAndNeverEmitsBrokenCharacters(string vocab)
    {
        var tok = TestData.Gguf(vocab);
        int[] ids = tok.Encode(MultiByteText, addSpecialTokens: true);
        AssertStreamsLikeDecode(tok, ids);
        AssertStreamsLikeDecode(tok, ids, skipSpecial: false);
        Assert.Equal(MultiByteText, tok.Decode(ids));
        foreach (var (text, expected) in TestData.ReadVocabTests(vocab)) AssertStreamsLikeDecode(tok, expected);
    }

    [Fact]
    public void EmojiSplitAcrossByteFallbackTokensIsHeldUntilComplete()
    {
        var tok = TestData.Gguf("ggml-vocab-llama-spm.gguf");
        int[] ids = tok.Encode("🙂", addSpecialTokens: false);
        // "▁" then the four byte tokens <0xF0> <0x9F> <0x99> <0x82>
        Assert.Equal([29871, 243, 162, 156, 133], ids);
        var inc = new IncrementalDecoder(tok);
        Assert.Equal("", inc.Append(ids[0])); // the leading space is stripped
        Assert.Equal("", inc.Append(ids[1]));
        Assert.Equal("", inc.Append(ids[2]));
        Assert.Equal("", inc.Append(ids[3]));
        Assert.Equal("🙂", inc.Append(ids[4]));
        Assert.Equal("", inc.Flush());
    }

    [Fact]
    public void EmojiSplitAcrossByteLevelTokensIsHeldUntilComplete()
    {
        var tok = TestData.Gguf("ggml-vocab-gpt-2.gguf");
        int[] ids = tok.Encode(" 🦙", addSpecialTokens: false);
        Assert.True(ids.Length >= 2);
        var inc = new IncrementalDecoder(tok);
        var parts = ids.Select(inc.Append).ToList();
        Assert.All(parts, p => Assert.DoesNotContain('\uFFFD', p));
        Assert.Equal(" 🦙", string.Concat(parts) + inc.Flush());
        // The llama is spread over several tokens: it appears whole, with the last of them.
        Assert.DoesNotContain("🦙", string.Concat(parts.Take(parts.Count - 1)));
        Assert.EndsWith("🦙", parts[^1]);
    }

    [Fact]
    public void FlushTurnsAnIncompleteSequenceIntoReplacementCharacter()
    {
        var tok = TestData.Gguf("ggml-vocab-llama-spm.gguf");
        var inc = new IncrementalDecoder(tok);
        Assert.Equal("", inc.Append(243)); // <0xF0>: first byte of a 4-byte sequence
        Assert.Equal("\uFFFD", inc.Flush());
        Assert.Equal("\uFFFD", tok.Decode([243]));
    }

    [Fact]
    public void SkipsSpecialTokensUnlessAsked()
    {
        var tok = TestData.Gguf("ggml-vocab-llama-bpe.gguf");
        int[] ids = tok.Encode("<|start_header_id|>user<|end_header_id|>\n\nHi 🙂<|eot_id|>");
        var inc = new IncrementalDecoder(tok);
        Assert.Equal("user\n\nHi 🙂", string.Concat(ids.Select(inc.Append)) + inc.Flush());
        var raw = new IncrementalDecoder(tok, skipSpecialTokens: false);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi 🙂<|eot_id|>", string.Concat(ids.Select(raw.Append)) + raw.Flush());
    }
}

using System.Text.Json;

namespace Granary.Tokenizers.Tests;

/// <summary>tests/data/fixtures/*: encodings and decodings computed by Hugging Face tokenizers.</summary>
public class FixtureTests
{
    public static TheoryData<string> Fixtures => new() { "llama-tiny", "mixtral-tiny", "qwen2-tiny", "llama3-tiny-bf16" };

    private static JsonElement Reference(string fixture) =>
        JsonDocument.Parse(File.ReadAllText(TestData.Path_("fixtures", fixture, "reference.json"))).RootElement;

    private static int[] Ids(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EncodeMatchesReference(string fixture)
    {
        var tok = TokenizerLoader.FromModelDirectory(TestData.Path_("fixtures", fixture));
        foreach (var item in Reference(fixture).GetProperty("tokenizer").EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            Assert.Equal(Ids(item.GetProperty("ids")), tok.Encode(text));
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void DecodeMatchesReference(string fixture)
    {
        var tok = TokenizerLoader.FromModelDirectory(TestData.Path_("fixtures", fixture));
        foreach (var item in Reference(fixture).GetProperty("tokenizer").EnumerateArray())
        {
            int[] ids = Ids(item.GetProperty("ids"));
            string expected = item.GetProperty("decoded").GetString()!;
            Assert.Equal(expected, tok.Decode(ids, skipSpecialTokens: true));

            // Streaming gives the same text, token by token.
            var inc = new IncrementalDecoder(tok);
            string streamed = string.Concat(ids.Select(inc.Append)) + inc.Flush();
            Assert.Equal(expected, streamed);
        }
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ChatTemplateTextEncodesWithoutAddedSpecialTokens(string fixture)
    {
        var tok = TokenizerLoader.FromModelDirectory(TestData.Path_("fixtures", fixture));
        var chat = Reference(fixture).GetProperty("chat");
        Assert.Equal(Ids(chat.GetProperty("ids")), tok.Encode(chat.GetProperty("text").GetString()!, addSpecialTokens: false));
    }

    [Theory]
    [InlineData("llama-tiny", 1, new[] { 2 })]
    [InlineData("mixtral-tiny", 1, new[] { 2 })]
    [InlineData("qwen2-tiny", null, new[] { 0 })]
    [InlineData("llama3-tiny-bf16", null, new[] { 0 })]
    public void SpecialTokenIdsFromConfig(string fixture, int? bos, int[] eos)
    {
        var tok = TokenizerLoader.FromModelDirectory(TestData.Path_("fixtures", fixture));
        Assert.Equal(bos, tok.BosTokenId);
        Assert.Equal(eos, tok.EosTokenIds.Take(eos.Length));
    }
}

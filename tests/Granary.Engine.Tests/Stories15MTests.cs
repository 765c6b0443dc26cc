using System.Text.Json;

namespace Granary.Engine.Tests;

/// <summary>
/// The real stories15M model (fetched and converted by scripts/fetch-stories15m.sh) against llama2.c's own
/// logits and greedy tokens.
/// </summary>
public class Stories15MTests
{
    private static readonly int[] Prompt = [1, 9038, 2501, 263, 931];
    private static string Reference(string file) => Path.Combine(TestData.Root, "stories15M", "reference", file);

    private static int[] ReferenceGreedy() =>
        JsonSerializer.Deserialize<int[]>(File.ReadAllText(Reference("ref_greedy_tokens_llama2c.json")))!;

    [Fact]
    public void GreedyPromptIdsReproduceLlama2c()
    {
        var (code, output, error) = CliRunner.Run("generate", "--model", TestData.Stories15M, "--prompt-ids", "1,9038,2501,263,931",
            "--max-tokens", "64", "--temperature", "0", "--logprobs", "5", "--output", "json");
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        int[] expected = ReferenceGreedy();
        Assert.Equal(Prompt, TestData.Ints(json.GetProperty("prompt_ids")));
        // llama2.c ran 64 positions (prompt included): its tokens are the start of our 64 new ones.
        int[] generated = TestData.Ints(json.GetProperty("token_ids"));
        Assert.Equal(64, generated.Length);
        Assert.Equal(expected[Prompt.Length..], generated[..(expected.Length - Prompt.Length)]);

        // Logprobs of the first generated position against log_softmax of llama2.c's last-position logits.
        byte[] raw = File.ReadAllBytes(Reference("ref_logits_llama2c.f32"));
        var logits = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw.AsSpan()).Slice(4 * 32000, 32000);
        float[] expectedLogprobs = TestData.LogSoftmax(logits);
        var first = json.GetProperty("logprobs")[0];
        Assert.Equal(expected[Prompt.Length], first.GetProperty("token_id").GetInt32());
        Assert.InRange(first.GetProperty("logprob").GetSingle(), expectedLogprobs[expected[Prompt.Length]] - 1e-3f, expectedLogprobs[expected[Prompt.Length]] + 1e-3f);
        foreach (var alternative in first.GetProperty("top").EnumerateArray())
        {
            int id = alternative.GetProperty("token_id").GetInt32();
            Assert.InRange(alternative.GetProperty("logprob").GetSingle(), expectedLogprobs[id] - 1e-3f, expectedLogprobs[id] + 1e-3f);
        }
    }

    [Fact]
    public void LastPositionLogitsMatchLlama2cWithinTolerance()
    {
        using var model = LocalModel.Load(TestData.Stories15M, new LocalModelOptions());
        model.Engine.Add(Prompt, SamplingParams.Greedy(1));
        model.Engine.Step();
        byte[] raw = File.ReadAllBytes(Reference("ref_logits_llama2c.f32"));
        var expected = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw.AsSpan()).Slice(4 * 32000, 32000);
        var actual = new float[32000];
        model.Engine.ReadLogits(0, actual);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        Assert.True(worst < 1e-3f, $"logits differ from llama2.c by up to {worst}");
    }

    [Fact]
    public void PromptTextPrintsTheSameStory()
    {
        var (code, output, error) = CliRunner.Run("generate", "--model", TestData.Stories15M, "--prompt", "Once upon a time",
            "--max-tokens", "64", "--temperature", "0");
        Assert.True(code == 0, error);
        string story = File.ReadAllText(Reference("ref_greedy_text_llama2c.txt")).TrimEnd('\n');
        Assert.StartsWith(story, output);
    }

    [Fact]
    public void PromptTextIsTokenizedWithBos()
    {
        var (code, output, _) = CliRunner.Run("tokenize", "--model", TestData.Stories15M, "--text", "Once upon a time", "--output", "json");
        Assert.Equal(0, code);
        Assert.Equal(Prompt, TestData.Ints(JsonDocument.Parse(output).RootElement.GetProperty("ids")));
    }
}

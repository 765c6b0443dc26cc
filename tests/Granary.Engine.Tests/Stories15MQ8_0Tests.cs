using System.Text.Json;

namespace Granary.Engine.Tests;

/// <summary>
/// stories15M in Q8_0 against llama.cpp's greedy tokens for its own Q8_0 GGUF of the model (made once, see
/// tests/data/stories15M/reference/README-llamacpp.md): quantized at load from safetensors with --quantization q8_0,
/// and, where scripts/bench-llamacpp.sh left llama.cpp's GGUF files, loaded from them.
/// </summary>
public class Stories15MQ8_0Tests
{
    private const int Compared = 32;

    private static JsonElement Reference() => JsonDocument.Parse(File.ReadAllText(
        Path.Combine(TestData.Root, "stories15M", "reference", "ref_greedy_tokens_llamacpp_q8_0.json"))).RootElement;

    private static void AssertLlamaCppTokens(string model, params string[] extra)
    {
        var reference = Reference();
        var (code, output, error) = CliRunner.Run(["generate", "--model", model, "--prompt", "Once upon a time", "--max-tokens", Compared.ToString(),
            "--temperature", "0", "--ignore-eos", "--output", "json", .. extra]);
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(TestData.Ints(reference.GetProperty("prompt_ids")), TestData.Ints(json.GetProperty("prompt_ids")));
        Assert.Equal(TestData.Ints(reference.GetProperty("token_ids"))[..Compared], TestData.Ints(json.GetProperty("token_ids")));
    }

    [Fact]
    public void QuantizedAtLoadGivesLlamaCppsQ8_0Tokens() => AssertLlamaCppTokens(TestData.Stories15M, "--quantization", "q8_0");

    [Fact]
    public void PipelineStagesQuantizeTheirOwnLayers() => AssertLlamaCppTokens(TestData.Stories15M, "--quantization", "q8_0", "--pp", "2");

    [Fact]
    public void TensorParallelSliceOutsideTheBlocksIsNamed()
    {
        // Split over 2 ranks, o_proj's 288 input columns give each rank 144: not whole blocks of 32.
        var (code, _, error) = CliRunner.Run("generate", "--model", TestData.Stories15M, "--prompt-ids", "1,2", "--max-tokens", "1", "--quantization", "q8_0", "--tp", "2");
        Assert.Equal(1, code);
        Assert.Contains("tensor 'model.layers.0.self_attn.o_proj.weight': Q8_0 quantizes rows in blocks of 32 elements; this matrix (or this rank's slice of it) has rows of 144", error);
    }

    [Theory]
    [InlineData("stories15M-q8_0.gguf")]
    [InlineData("stories15M-f32.gguf")]
    public void LlamaCppsGgufFilesLoad(string file)
    {
        string home = Environment.GetEnvironmentVariable("LLAMACPP_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "granary-llamacpp");
        string path = Path.Combine(home, file);
        if (!File.Exists(path)) Assert.Skip($"{path} not found (scripts/bench-llamacpp.sh makes it)");
        if (file.Contains("q8_0")) AssertLlamaCppTokens(path);
        else
        {
            // The f32 file against the safetensors folder's own greedy tokens.
            var (code, fromGguf, error) = CliRunner.Run("generate", "--model", path, "--prompt", "Once upon a time", "--max-tokens", "32", "--temperature", "0", "--output", "json");
            Assert.True(code == 0, error);
            var (_, fromFolder, _) = CliRunner.Run("generate", "--model", TestData.Stories15M, "--prompt", "Once upon a time", "--max-tokens", "32", "--temperature", "0", "--output", "json");
            Assert.Equal(TestData.Ints(JsonDocument.Parse(fromFolder).RootElement.GetProperty("token_ids")), TestData.Ints(JsonDocument.Parse(fromGguf).RootElement.GetProperty("token_ids")));
        }
    }
}

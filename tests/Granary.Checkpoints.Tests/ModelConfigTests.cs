using System.Text.Json.Nodes;
using Granary.Models.Checkpoints;

namespace Granary.Checkpoints.Tests;

public class ModelConfigTests
{
    private const string Source = "some/dir/config.json";

    private static JsonObject FixtureJson(string name) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(TestData.Fixture(name), "config.json")))!.AsObject();

    private static ModelConfig Parse(JsonObject o) => ModelConfig.Parse(o.ToJsonString(), Source);

    [Fact]
    public void OlderRopeThetaAndRopeScalingGiveTheSameRope()
    {
        var modern = FixtureJson("llama3-tiny-bf16");
        var old = FixtureJson("llama3-tiny-bf16");
        old.Remove("rope_parameters");
        old["rope_theta"] = 500000.0;
        old["rope_scaling"] = JsonNode.Parse("""
            {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64, "rope_type": "llama3"}
            """);
        Assert.Equal(Parse(modern).Rope, Parse(old).Rope);

        // Even older spelling: "type" instead of "rope_type".
        old["rope_scaling"]!.AsObject().Remove("rope_type");
        old["rope_scaling"]!["type"] = "llama3";
        Assert.Equal(Parse(modern).Rope, Parse(old).Rope);
    }

    [Fact]
    public void DefaultRopeFromTopLevelThetaOrNothing()
    {
        var modern = FixtureJson("qwen2-tiny");
        var old = FixtureJson("qwen2-tiny");
        old.Remove("rope_parameters");
        old["rope_theta"] = 1000000.0;
        old["rope_scaling"] = null;
        Assert.Equal(Parse(modern).Rope, Parse(old).Rope);

        old.Remove("rope_theta");
        Assert.Equal(new RopeConfig(10000), Parse(old).Rope);
    }

    [Fact]
    public void LinearRope()
    {
        var o = FixtureJson("llama-tiny");
        o["rope_parameters"] = JsonNode.Parse("""{"rope_theta": 10000.0, "rope_type": "linear", "factor": 2.0}""");
        Assert.Equal(new RopeConfig(10000, RopeType.Linear, Factor: 2), Parse(o).Rope);
        o.Remove("rope_parameters");
        o["rope_scaling"] = JsonNode.Parse("""{"type": "linear", "factor": 2.0}""");
        Assert.Equal(new RopeConfig(10000, RopeType.Linear, Factor: 2), Parse(o).Rope);
    }

    [Theory]
    [InlineData("dynamic")]
    [InlineData("yarn")]
    [InlineData("longrope")]
    public void UnsupportedRopeTypesAreNamed(string type)
    {
        var o = FixtureJson("llama-tiny");
        o.Remove("rope_parameters");
        o["rope_scaling"] = JsonNode.Parse($$"""{"type": "{{type}}", "factor": 4.0}""");
        var e = Assert.Throws<NotSupportedException>(() => Parse(o));
        Assert.Contains(Source, e.Message);
        Assert.Contains($"'{type}'", e.Message);
        Assert.Contains("llama3", e.Message); // lists what is supported
    }

    [Fact]
    public void Llama3RopeWithoutFactorNamesTheField()
    {
        var o = FixtureJson("llama3-tiny-bf16");
        o["rope_parameters"]!.AsObject().Remove("factor");
        var e = Assert.Throws<InvalidDataException>(() => Parse(o));
        Assert.Equal($"{Source}: missing required field 'rope_parameters.factor'", e.Message);
    }

    [Fact]
    public void WrongRopeFieldTypeNamesTheField()
    {
        var o = FixtureJson("llama3-tiny-bf16");
        o["rope_parameters"]!["factor"] = "8";
        var e = Assert.Throws<InvalidDataException>(() => Parse(o));
        Assert.Equal($"{Source}: field 'rope_parameters.factor' must be a number, got a string (\"8\")", e.Message);
    }

    [Fact]
    public void Stories15MStyleConfig()
    {
        var c = ModelConfig.Load(TestData.Stories15MHf);
        Assert.Equal(ModelArchitecture.Llama, c.Architecture);
        Assert.Equal((288, 768, 6, 6, 6, 48, 32000, 256), (c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim, c.VocabSize, c.MaxPositionEmbeddings));
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal("float32", c.TorchDtype);
        Assert.Equal(new RopeConfig(10000), c.Rope);
    }

    [Fact]
    public void UnknownArchitectureIsNotSupported()
    {
        var o = FixtureJson("llama-tiny");
        o["architectures"] = new JsonArray("GPT2LMHeadModel");
        var e = Assert.Throws<NotSupportedException>(() => Parse(o));
        Assert.StartsWith($"{Source}: architecture 'GPT2LMHeadModel' is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, MixtralForCausalLM", e.Message);
    }

    [Fact]
    public void ModelTypeIsUsedWithoutArchitectures()
    {
        var o = FixtureJson("mixtral-tiny");
        o.Remove("architectures");
        Assert.Equal(ModelArchitecture.Mixtral, Parse(o).Architecture);
        o["model_type"] = "gemma";
        var e = Assert.Throws<NotSupportedException>(() => Parse(o));
        Assert.Contains("'gemma'", e.Message);
    }

    [Theory]
    [InlineData("hidden_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("vocab_size")]
    [InlineData("intermediate_size")]
    [InlineData("num_attention_heads")]
    public void MissingRequiredFieldIsNamed(string field)
    {
        var o = FixtureJson("llama-tiny");
        o.Remove(field);
        var e = Assert.Throws<InvalidDataException>(() => Parse(o));
        Assert.Equal($"{Source}: missing required field '{field}'", e.Message);
    }

    [Fact]
    public void WrongJsonTypeIsNamed()
    {
        var o = FixtureJson("llama-tiny");
        o["hidden_size"] = "64";
        var e = Assert.Throws<InvalidDataException>(() => Parse(o));
        Assert.Equal($"{Source}: field 'hidden_size' must be an integer, got a string (\"64\")", e.Message);

        o = FixtureJson("llama-tiny");
        o["tie_word_embeddings"] = 1;
        e = Assert.Throws<InvalidDataException>(() => Parse(o));
        Assert.Contains("'tie_word_embeddings'", e.Message);

        o = FixtureJson("llama-tiny");
        o["eos_token_id"] = "x";
        e = Assert.Throws<InvalidDataException>(() => Parse(o));
        Assert.Contains("'eos_token_id'", e.Message);
    }

    [Fact]
    public void MalformedJsonNamesTheFile()
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse("{\"hidden_size\": 64,,}", Source));
        Assert.StartsWith($"{Source}: malformed JSON", e.Message);
    }

    [Fact]
    public void InconsistentHeadsAreRejected()
    {
        var o = FixtureJson("llama-tiny");
        o["num_key_value_heads"] = 3;
        var e = Assert.Throws<InvalidDataException>(() => Parse(o));
        Assert.Contains("num_key_value_heads", e.Message);
    }

    [Fact]
    public void DefaultsAndOptionalFields()
    {
        var o = FixtureJson("llama-tiny");
        foreach (string f in new[] { "num_key_value_heads", "head_dim", "tie_word_embeddings", "bos_token_id", "eos_token_id", "rms_norm_eps", "max_position_embeddings", "dtype" })
            o.Remove(f);
        var c = Parse(o);
        Assert.Equal(4, c.NumKvHeads);
        Assert.Equal(16, c.HeadDim);
        Assert.False(c.TieWordEmbeddings);
        Assert.Null(c.BosTokenId);
        Assert.Empty(c.EosTokenIds);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(2048, c.MaxPositionEmbeddings);
        Assert.Null(c.TorchDtype);

        o["eos_token_id"] = new JsonArray(128001, 128008, 128009);
        o["torch_dtype"] = "bfloat16";
        o["attention_bias"] = true;
        c = Parse(o);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.True(c.AttentionBias);
        Assert.True(c.AttentionOutputBias);
    }

    [Fact]
    public void MistralSlidingWindow()
    {
        var o = FixtureJson("llama-tiny");
        o["architectures"] = new JsonArray("MistralForCausalLM");
        o["model_type"] = "mistral";
        o["sliding_window"] = 4096;
        var c = Parse(o);
        Assert.Equal(ModelArchitecture.Mistral, c.Architecture);
        Assert.Equal(4096, c.SlidingWindow);
    }

    [Fact]
    public void Qwen2SlidingWindowOnlyWhenEnabled()
    {
        var o = FixtureJson("qwen2-tiny");
        o["sliding_window"] = 128;
        Assert.Null(Parse(o).SlidingWindow);
        o["use_sliding_window"] = true;
        Assert.Equal(128, Parse(o).SlidingWindow);
    }

    [Fact]
    public void MissingConfigFileNamesThePath()
    {
        using var tmp = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => ModelConfig.Load(tmp.Path));
        Assert.Contains(tmp.File("config.json"), e.Message);
    }

    [Fact]
    public void GenerationConfigFields()
    {
        var g = GenerationConfig.Parse("""{"bos_token_id": 1, "eos_token_id": [2, 32000], "temperature": 0.6, "top_p": 0.9, "top_k": 50, "do_sample": true}""", "g.json");
        Assert.Equal(1, g.BosTokenId);
        Assert.Equal([2, 32000], g.EosTokenIds);
        Assert.Equal(0.6, g.Temperature);
        Assert.Equal(0.9, g.TopP);
        Assert.Equal(50, g.TopK);
        Assert.True(g.DoSample);

        var e = Assert.Throws<InvalidDataException>(() => GenerationConfig.Parse("""{"top_k": "x"}""", "g.json"));
        Assert.Equal("g.json: field 'top_k' must be an integer, got a string (\"x\")", e.Message);

        using var tmp = new TempDir();
        Assert.Null(GenerationConfig.Load(tmp.Path));
    }
}

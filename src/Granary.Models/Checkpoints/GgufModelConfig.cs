using System.Text.Json;
using Granary.Tokenizers.Gguf;

namespace Granary.Models.Checkpoints;

/// <summary>
/// The <see cref="ModelConfig"/> of a GGUF file, from its <c>llama.*</c> metadata (the keys llama.cpp reads), as the
/// config.json a Hugging Face Llama checkpoint would have. Architectures other than llama are refused by name.
/// </summary>
internal static class GgufModelConfig
{
    public static ModelConfig From(GgufFile gguf)
    {
        string source = gguf.Source;
        string arch = gguf.GetString("general.architecture") ?? throw new InvalidDataException($"{source}: no general.architecture in the GGUF metadata");
        if (arch != "llama") throw new NotSupportedException($"{source}: GGUF architecture '{arch}' is not supported (Granary loads llama GGUF files)");
        long Required(string key) => gguf.GetInt64($"llama.{key}") ?? throw new InvalidDataException($"{source}: missing GGUF key 'llama.{key}'");
        long heads = Required("attention.head_count");
        int vocab = (int)(gguf.GetInt64("llama.vocab_size") ?? gguf.GetArray<string>("tokenizer.ggml.tokens")?.LongLength
            ?? throw new InvalidDataException($"{source}: neither llama.vocab_size nor tokenizer.ggml.tokens gives the vocabulary size"));
        var config = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" },
            ["model_type"] = "llama",
            ["hidden_size"] = Required("embedding_length"),
            ["intermediate_size"] = Required("feed_forward_length"),
            ["num_hidden_layers"] = Required("block_count"),
            ["num_attention_heads"] = heads,
            ["num_key_value_heads"] = gguf.GetInt64("llama.attention.head_count_kv") ?? heads,
            ["max_position_embeddings"] = Required("context_length"),
            ["vocab_size"] = vocab,
            ["rms_norm_eps"] = Float(gguf, "llama.attention.layer_norm_rms_epsilon") ?? 1e-5,
            ["rope_theta"] = Float(gguf, "llama.rope.freq_base") ?? 10000.0,
            ["tie_word_embeddings"] = !gguf.Tensors.Any(t => t.Name == "output.weight"),
            ["bos_token_id"] = gguf.GetInt64("tokenizer.ggml.bos_token_id"),
            ["eos_token_id"] = gguf.GetInt64("tokenizer.ggml.eos_token_id"),
        };
        if (gguf.GetInt64("llama.rope.dimension_count") is { } ropeDims && ropeDims * heads != (long)config["hidden_size"]!)
            config["head_dim"] = ropeDims;
        return ModelConfig.Parse(JsonSerializer.Serialize(config), source);
    }

    private static double? Float(GgufFile gguf, string key) => gguf.Get(key)?.Value switch
    {
        null => null,
        float f => f,
        double d => d,
        var other => throw new InvalidDataException($"{gguf.Source}: GGUF key '{key}' is {other.GetType().Name}, expected a float"),
    };
}

namespace Granary.Models.Checkpoints;

/// <summary>llama.cpp's tensor names of the llama architecture and their Hugging Face names.</summary>
internal static class GgufNames
{
    private static readonly Dictionary<string, string> Layer = new(StringComparer.Ordinal)
    {
        ["attn_norm.weight"] = "input_layernorm.weight",
        ["attn_q.weight"] = "self_attn.q_proj.weight",
        ["attn_k.weight"] = "self_attn.k_proj.weight",
        ["attn_v.weight"] = "self_attn.v_proj.weight",
        ["attn_output.weight"] = "self_attn.o_proj.weight",
        ["ffn_norm.weight"] = "post_attention_layernorm.weight",
        ["ffn_gate.weight"] = "mlp.gate_proj.weight",
        ["ffn_up.weight"] = "mlp.up_proj.weight",
        ["ffn_down.weight"] = "mlp.down_proj.weight",
    };

    /// <summary>The Hugging Face name, or null for a tensor the model does not use (rope_freqs: the config carries the RoPE settings).</summary>
    public static string? ToHuggingFace(string name)
    {
        switch (name)
        {
            case "token_embd.weight": return "model.embed_tokens.weight";
            case "output_norm.weight": return "model.norm.weight";
            case "output.weight": return "lm_head.weight";
            case "rope_freqs.weight": return null;
        }
        if (name.StartsWith("blk.", StringComparison.Ordinal))
        {
            int dot = name.IndexOf('.', 4);
            if (dot > 4 && int.TryParse(name.AsSpan(4, dot - 4), out int layer) && Layer.TryGetValue(name[(dot + 1)..], out var part))
                return $"model.layers.{layer}.{part}";
        }
        throw new NotSupportedException($"GGUF tensor '{name}' is not part of the llama architecture Granary loads");
    }
}

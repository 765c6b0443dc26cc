using Granary.Models.Checkpoints;

namespace Granary.Checkpoints.Tests;

/// <summary>The tensors a Hugging Face checkpoint of each architecture has (names and shapes), written out by hand.</summary>
internal static class ExpectedTensors
{
    public static Dictionary<string, long[]> For(ModelConfig c)
    {
        long h = c.HiddenSize, i = c.IntermediateSize, v = c.VocabSize;
        long q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim;
        var t = new Dictionary<string, long[]> { ["model.embed_tokens.weight"] = [v, h], ["model.norm.weight"] = [h] };
        if (!c.TieWordEmbeddings) t["lm_head.weight"] = [v, h];
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"model.layers.{l}.";
            t[p + "input_layernorm.weight"] = [h];
            t[p + "post_attention_layernorm.weight"] = [h];
            t[p + "self_attn.q_proj.weight"] = [q, h];
            t[p + "self_attn.k_proj.weight"] = [kv, h];
            t[p + "self_attn.v_proj.weight"] = [kv, h];
            t[p + "self_attn.o_proj.weight"] = [h, q];
            if (c.AttentionBias)
            {
                t[p + "self_attn.q_proj.bias"] = [q];
                t[p + "self_attn.k_proj.bias"] = [kv];
                t[p + "self_attn.v_proj.bias"] = [kv];
            }
            if (c.AttentionOutputBias) t[p + "self_attn.o_proj.bias"] = [h];
            if (c.Architecture == ModelArchitecture.Mixtral)
            {
                t[p + "block_sparse_moe.gate.weight"] = [c.NumExperts, h];
                for (int e = 0; e < c.NumExperts; e++)
                {
                    string x = $"{p}block_sparse_moe.experts.{e}.";
                    t[x + "w1.weight"] = [i, h];
                    t[x + "w2.weight"] = [h, i];
                    t[x + "w3.weight"] = [i, h];
                }
            }
            else
            {
                t[p + "mlp.gate_proj.weight"] = [i, h];
                t[p + "mlp.up_proj.weight"] = [i, h];
                t[p + "mlp.down_proj.weight"] = [h, i];
                if (c.MlpBias)
                {
                    t[p + "mlp.gate_proj.bias"] = [i];
                    t[p + "mlp.up_proj.bias"] = [i];
                    t[p + "mlp.down_proj.bias"] = [h];
                }
            }
        }
        return t;
    }
}

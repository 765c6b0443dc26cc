using System.Text;
using Granary.Compute;
using Granary.Models.Checkpoints;

namespace Granary.Engine.Tests;

/// <summary>
/// Writes a Hugging Face Llama fixture as an F32 GGUF file the way convert_hf_to_gguf lays it out (llama.cpp names,
/// ggml dimension order, q/k rows permuted to the interleaved RoPE order), so that the loader's mapping is checked
/// against an independent writer.
/// </summary>
internal static class GgufTestWriter
{
    private const int Alignment = 32;

    public static void Write(string fixtureDir, string path)
    {
        var config = ModelConfig.Load(fixtureDir);
        using var checkpoint = Checkpoint.Open(fixtureDir);
        var tensors = new List<(string Name, long[] Shape, byte[] Data)>();
        void Add(string gguf, string hf, int permuteHeads = 0)
        {
            var info = checkpoint.Info(hf);
            float[] values = HostConversions.ToFloat(info.DType, checkpoint.Bytes(hf));
            if (permuteHeads > 0) values = Permute(values, permuteHeads, info.Shape[0], info.Shape[1]);
            tensors.Add((gguf, info.Shape, HostConversions.FromFloat(values, DType.F32)));
        }
        Add("token_embd.weight", "model.embed_tokens.weight");
        for (int i = 0; i < config.NumLayers; i++)
        {
            string p = $"model.layers.{i}.";
            Add($"blk.{i}.attn_norm.weight", p + "input_layernorm.weight");
            Add($"blk.{i}.attn_q.weight", p + "self_attn.q_proj.weight", config.NumHeads);
            Add($"blk.{i}.attn_k.weight", p + "self_attn.k_proj.weight", config.NumKvHeads);
            Add($"blk.{i}.attn_v.weight", p + "self_attn.v_proj.weight");
            Add($"blk.{i}.attn_output.weight", p + "self_attn.o_proj.weight");
            Add($"blk.{i}.ffn_norm.weight", p + "post_attention_layernorm.weight");
            Add($"blk.{i}.ffn_gate.weight", p + "mlp.gate_proj.weight");
            Add($"blk.{i}.ffn_up.weight", p + "mlp.up_proj.weight");
            Add($"blk.{i}.ffn_down.weight", p + "mlp.down_proj.weight");
        }
        Add("output_norm.weight", "model.norm.weight");
        if (checkpoint.Contains("lm_head.weight") && !config.TieWordEmbeddings) Add("output.weight", "lm_head.weight");

        using var stream = File.Create(path);
        using var w = new BinaryWriter(stream);
        w.Write(0x46554747u);
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        var metadata = new List<(string Key, Action Value)>
        {
            ("general.architecture", () => String(w, "llama")),
            ("llama.context_length", () => UInt32(w, config.MaxPositionEmbeddings)),
            ("llama.embedding_length", () => UInt32(w, config.HiddenSize)),
            ("llama.feed_forward_length", () => UInt32(w, config.IntermediateSize)),
            ("llama.block_count", () => UInt32(w, config.NumLayers)),
            ("llama.attention.head_count", () => UInt32(w, config.NumHeads)),
            ("llama.attention.head_count_kv", () => UInt32(w, config.NumKvHeads)),
            ("llama.attention.layer_norm_rms_epsilon", () => { w.Write(6u); w.Write((float)config.RmsNormEps); }),
            ("llama.rope.freq_base", () => { w.Write(6u); w.Write((float)config.Rope.Theta); }),
            ("llama.vocab_size", () => UInt32(w, config.VocabSize)),
        };
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            value();
        }
        long offset = 0;
        foreach (var (name, shape, data) in tensors)
        {
            WriteString(w, name);
            w.Write((uint)shape.Length);
            foreach (long d in shape.Reverse()) w.Write((ulong)d);
            w.Write(0u); // F32
            w.Write((ulong)offset);
            offset = Align(offset + data.Length);
        }
        Pad(w);
        foreach (var (_, _, data) in tensors)
        {
            w.Write(data);
            Pad(w);
        }
    }

    /// <summary>convert_hf_to_gguf's permute: per head, rows (half, 2) interleaved: GGUF row (h, 2j + s) = HF row (h, s * half + j).</summary>
    private static float[] Permute(float[] w, int heads, long rows, long cols)
    {
        var result = new float[w.Length];
        long headDim = rows / heads, half = headDim / 2;
        for (long h = 0; h < heads; h++)
        for (long j = 0; j < half; j++)
        for (long s = 0; s < 2; s++)
            Array.Copy(w, (h * headDim + s * half + j) * cols, result, (h * headDim + 2 * j + s) * cols, cols);
        return result;
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void String(BinaryWriter w, string s) { w.Write(8u); WriteString(w, s); }

    private static void UInt32(BinaryWriter w, int v) { w.Write(4u); w.Write((uint)v); }

    private static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w)
    {
        w.Flush();
        while (w.BaseStream.Position % Alignment != 0) w.Write((byte)0);
    }
}

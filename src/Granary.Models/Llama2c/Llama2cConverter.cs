using System.Text.Encodings.Web;
using System.Text.Json;
using Granary.Compute;
using Granary.Models.Checkpoints;
using Microsoft.Win32.SafeHandles;

namespace Granary.Models.Llama2c;

/// <summary>
/// Converts a llama2.c checkpoint (v0 format) and its tokenizer.bin into a Hugging Face Llama checkpoint folder:
/// config.json, model.safetensors (float32), tokenizer.json, tokenizer_config.json, generation_config.json.
/// </summary>
public static class Llama2cConverter
{
    /// <summary>
    /// Writes the Hugging Face folder <paramref name="outputDir"/> (created if needed, files overwritten).
    /// config.json is written last, so a folder holding config.json and model.safetensors is complete.
    /// </summary>
    /// <param name="checkpointBin">llama2.c checkpoint, e.g. stories15M.bin.</param>
    /// <param name="tokenizerBin">llama2.c tokenizer.bin of the same vocabulary.</param>
    /// <param name="outputDir">Folder to write.</param>
    /// <param name="progress">Told after each tensor written to model.safetensors; null for nothing.</param>
    public static void Convert(string checkpointBin, string tokenizerBin, string outputDir, IProgress<TensorProgress>? progress = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointBin);
        ArgumentException.ThrowIfNullOrEmpty(tokenizerBin);
        ArgumentException.ThrowIfNullOrEmpty(outputDir);
        var header = Llama2cHeader.Read(checkpointBin);
        var tokenizer = Llama2cTokenizer.Read(tokenizerBin, header.VocabSize);

        Directory.CreateDirectory(outputDir);
        // A config.json left from an earlier run would mark a half-written folder as complete.
        File.Delete(Path.Combine(outputDir, ModelConfig.FileName));

        tokenizer.WriteTokenizerJson(Path.Combine(outputDir, "tokenizer.json"));
        tokenizer.WriteTokenizerConfig(Path.Combine(outputDir, "tokenizer_config.json"), header.SeqLen);
        WriteJson(Path.Combine(outputDir, GenerationConfig.FileName), w =>
        {
            w.WriteNumber("bos_token_id", tokenizer.BosId);
            w.WriteNumber("eos_token_id", tokenizer.EosId);
        });
        using (var handle = File.OpenHandle(checkpointBin, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess))
            BuildWeights(header, handle, checkpointBin).Write(Path.Combine(outputDir, Checkpoint.SingleFileName), progress);
        WriteConfig(Path.Combine(outputDir, ModelConfig.FileName), header, tokenizer);
    }

    /// <summary>
    /// The safetensors entries, in Hugging Face naming: each reads its bytes from the checkpoint when the file is
    /// written, so the model is never held in memory whole.
    /// </summary>
    private static SafetensorsWriter BuildWeights(Llama2cHeader h, SafeFileHandle file, string path)
    {
        long d = h.Dim, hid = h.HiddenDim, kv = h.KvDim, layers = h.NumLayers, vocab = h.VocabSize;
        long offset = Llama2cHeader.ByteLength;
        long Next(long floats) { long at = offset; offset += 4 * floats; return at; }

        long embedding = Next(vocab * d);
        long rmsAtt = Next(layers * d);
        long wq = Next(layers * d * d);
        long wk = Next(layers * kv * d);
        long wv = Next(layers * kv * d);
        long wo = Next(layers * d * d);
        long rmsFfn = Next(layers * d);
        long w1 = Next(layers * hid * d);
        long w2 = Next(layers * d * hid);
        long w3 = Next(layers * hid * d);
        long rmsFinal = Next(d);
        Next((long)h.SeqLen * h.HeadSize); // legacy freq_cis_real and freq_cis_imag tables, unused
        long classifier = h.SharedClassifier ? -1 : Next(vocab * d);

        var writer = new SafetensorsWriter();
        void Plain(string name, long at, params long[] shape) =>
            writer.Add(name, DType.F32, shape, s => CopyRange(file, path, at, 4 * shape.Aggregate(1L, (a, b) => a * b), s));

        Plain("model.embed_tokens.weight", embedding, vocab, d);
        for (int i = 0; i < h.NumLayers; i++)
        {
            string p = $"model.layers.{i}.";
            long li = i;
            writer.Add(p + "self_attn.q_proj.weight", DType.F32, [d, d], s => CopyPermuted(file, path, wq + 4 * li * d * d, h.NumHeads, h.HeadSize, h.Dim, s));
            writer.Add(p + "self_attn.k_proj.weight", DType.F32, [kv, d], s => CopyPermuted(file, path, wk + 4 * li * kv * d, h.NumKvHeads, h.HeadSize, h.Dim, s));
            Plain(p + "self_attn.v_proj.weight", wv + 4 * li * kv * d, kv, d);
            Plain(p + "self_attn.o_proj.weight", wo + 4 * li * d * d, d, d);
            Plain(p + "mlp.gate_proj.weight", w1 + 4 * li * hid * d, hid, d);
            Plain(p + "mlp.down_proj.weight", w2 + 4 * li * d * hid, d, hid);
            Plain(p + "mlp.up_proj.weight", w3 + 4 * li * hid * d, hid, d);
            Plain(p + "input_layernorm.weight", rmsAtt + 4 * li * d, d);
            Plain(p + "post_attention_layernorm.weight", rmsFfn + 4 * li * d, d);
        }
        Plain("model.norm.weight", rmsFinal, d);
        if (!h.SharedClassifier)
            Plain("lm_head.weight", classifier, vocab, d);
        return writer;
    }

    /// <summary>Copies <paramref name="count"/> bytes at <paramref name="offset"/> of the checkpoint to the output.</summary>
    private static void CopyRange(SafeFileHandle file, string path, long offset, long count, Stream output)
    {
        var buffer = new byte[(int)Math.Min(count, 1 << 20)];
        while (count > 0)
        {
            int n = (int)Math.Min(count, buffer.Length);
            ReadExactly(file, path, buffer.AsSpan(0, n), offset);
            output.Write(buffer, 0, n);
            offset += n;
            count -= n;
        }
    }

    /// <summary>
    /// Writes a [heads * headSize, cols] projection with its rows permuted from llama2.c's interleaved RoPE
    /// layout (pairs x[2j], x[2j+1]) to Hugging Face's rotate_half layout (pairs x[j], x[j + headSize/2]):
    /// new row (h, j) is old row (h, 2j) for j &lt; headSize/2 and old row (h, 2(j - headSize/2) + 1) otherwise.
    /// </summary>
    private static void CopyPermuted(SafeFileHandle file, string path, long offset, int heads, int headSize, int cols, Stream output)
    {
        int rowBytes = 4 * cols;
        var src = new byte[headSize * rowBytes];
        int half = headSize / 2;
        for (int head = 0; head < heads; head++)
        {
            ReadExactly(file, path, src, offset + (long)head * src.Length);
            for (int j = 0; j < headSize; j++)
            {
                int from = j < half ? 2 * j : 2 * (j - half) + 1;
                output.Write(src, from * rowBytes, rowBytes);
            }
        }
    }

    private static void ReadExactly(SafeFileHandle file, string path, Span<byte> dest, long offset)
    {
        while (dest.Length > 0)
        {
            int n = RandomAccess.Read(file, dest, offset);
            if (n == 0) throw new EndOfStreamException($"{path}: unexpected end of file at byte {offset}");
            dest = dest[n..];
            offset += n;
        }
    }

    private static void WriteConfig(string path, Llama2cHeader h, Llama2cTokenizer tokenizer) => WriteJson(path, w =>
    {
        w.WriteStartArray("architectures"); w.WriteStringValue("LlamaForCausalLM"); w.WriteEndArray();
        w.WriteString("model_type", "llama");
        w.WriteNumber("hidden_size", h.Dim);
        w.WriteNumber("intermediate_size", h.HiddenDim);
        w.WriteNumber("num_hidden_layers", h.NumLayers);
        w.WriteNumber("num_attention_heads", h.NumHeads);
        w.WriteNumber("num_key_value_heads", h.NumKvHeads);
        w.WriteNumber("vocab_size", h.VocabSize);
        w.WriteNumber("max_position_embeddings", h.SeqLen);
        // llama2.c's run.c uses these fixed values.
        w.WritePropertyName("rms_norm_eps"); w.WriteRawValue("1e-05");
        w.WritePropertyName("rope_theta"); w.WriteRawValue("10000.0");
        w.WriteString("hidden_act", "silu");
        w.WriteBoolean("tie_word_embeddings", h.SharedClassifier);
        w.WriteNumber("bos_token_id", tokenizer.BosId);
        w.WriteNumber("eos_token_id", tokenizer.EosId);
        w.WriteString("torch_dtype", "float32");
    });

    private static void WriteJson(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    }
}

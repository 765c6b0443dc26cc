using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Granary.Compute;
using Granary.Compute.Fp8;
using Granary.Models.Checkpoints;

namespace Granary.Tests.Shared;

/// <summary>
/// An FP8 copy of a checkpoint folder in a temporary folder (deleted on dispose), as FP8 checkpoints are published:
/// every projection matrix (attention, MLP, experts, an untied LM head) as F8_E4M3 codes with a scale tensor in the
/// chosen <see cref="Fp8Layout"/>; embeddings, norms, biases and the MoE router as they were; config.json with a
/// Hugging Face <c>quantization_config</c>. Per-channel codes and scales are <see cref="Fp8Quantization.QuantizeRows"/>'s,
/// the ones <see cref="WeightQuantization.Fp8"/> makes at load.
/// </summary>
internal sealed class Fp8Checkpoint : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("granary-fp8-").FullName;

    /// <param name="source">A checkpoint folder (safetensors, config.json, tokenizer files).</param>
    /// <param name="block">The block of <see cref="Fp8Layout.Block"/> scales, written to config.json's weight_block_size.</param>
    public Fp8Checkpoint(string source, Fp8Layout layout, int block = 128)
    {
        foreach (string file in System.IO.Directory.GetFiles(source))
            if (!file.EndsWith(".safetensors", StringComparison.Ordinal) && Path.GetFileName(file) is not ("config.json" or Checkpoint.IndexFileName))
                File.Copy(file, Path.Combine(Directory, Path.GetFileName(file)));
        WriteConfig(source, layout, block);
        var writer = new SafetensorsWriter();
        using (var checkpoint = Checkpoint.Open(source))
            foreach (string name in checkpoint.TensorNames.Order(StringComparer.Ordinal))
            {
                var info = checkpoint.Info(name);
                if (!IsProjection(name) || info.Shape.Length != 2)
                {
                    writer.Add(name, info.DType, info.Shape, checkpoint.Bytes(name).ToArray());
                    continue;
                }
                float[] weights = HostConversions.ToFloat(info.DType, checkpoint.Bytes(name));
                var (codes, scaleShape, scales) = Quantize(weights, (int)info.Shape[0], (int)info.Shape[1], layout, block);
                writer.Add(name, DType.F8E4M3, info.Shape, codes);
                writer.Add(name + (layout == Fp8Layout.Block ? "_scale_inv" : "_scale"), DType.F32, scaleShape, MemoryMarshal.AsBytes(scales.AsSpan()).ToArray());
            }
        writer.Write(Path.Combine(Directory, Checkpoint.SingleFileName));
    }

    /// <summary>The matrices FP8 checkpoints quantize: every linear layer but the MoE router.</summary>
    private static bool IsProjection(string name) =>
        name == "lm_head.weight" || name.EndsWith("_proj.weight", StringComparison.Ordinal) || name.Contains(".experts.", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal);

    private static (byte[] Codes, long[] ScaleShape, float[] Scales) Quantize(float[] w, int rows, int cols, Fp8Layout layout, int block)
    {
        var codes = new byte[w.Length];
        switch (layout)
        {
            case Fp8Layout.PerChannel:
                var perRow = new float[rows];
                Fp8Quantization.QuantizeRows(w, rows, cols, codes, perRow);
                return (codes, [rows], perRow);
            case Fp8Layout.PerTensor:
                float scale = Scale(w.Max(MathF.Abs));
                for (int i = 0; i < w.Length; i++) codes[i] = Fp8E4M3.FromSingle(w[i] / scale);
                return (codes, [], [scale]);
            default:
                // Blocks at the right and bottom edges are what is left of the matrix (ceil), as DeepSeek-V3's are.
                int blockRows = (rows + block - 1) / block, blockCols = (cols + block - 1) / block;
                var scales = new float[blockRows * blockCols];
                for (int i = 0; i < w.Length; i++)
                {
                    int b = i / cols / block * blockCols + i % cols / block;
                    scales[b] = MathF.Max(scales[b], MathF.Abs(w[i]));
                }
                for (int b = 0; b < scales.Length; b++) scales[b] = Scale(scales[b]);
                for (int i = 0; i < w.Length; i++) codes[i] = Fp8E4M3.FromSingle(w[i] / scales[i / cols / block * blockCols + i % cols / block]);
                return (codes, [blockRows, blockCols], scales);
        }
    }

    private static float Scale(float max) => max > 0 ? max / Fp8E4M3.MaxValue : 1f;

    private void WriteConfig(string source, Fp8Layout layout, int block)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        var quantization = new JsonObject { ["quant_method"] = "fp8", ["activation_scheme"] = "dynamic", ["fmt"] = "e4m3" };
        if (layout == Fp8Layout.Block) quantization["weight_block_size"] = new JsonArray(block, block);
        config["quantization_config"] = quantization;
        File.WriteAllText(Path.Combine(Directory, "config.json"), config.ToJsonString());
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

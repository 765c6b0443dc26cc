namespace Granary.Compute.Fp8;

/// <summary>
/// Per-output-channel FP8 (E4M3) weights: each row of a [rows, cols] matrix gets one float32 scale, max|row| / 448, and
/// its values are stored as E4M3 codes of value / scale (the layout of Hugging Face's and vLLM's fp8 checkpoints with a
/// per-channel <c>weight_scale</c>). A row of zeros gets scale 1.
/// </summary>
public static class Fp8Quantization
{
    public static void QuantizeRows(ReadOnlySpan<float> weights, int rows, int cols, Span<byte> codes, Span<float> scales)
    {
        if (weights.Length != (long)rows * cols || codes.Length != weights.Length || scales.Length != rows)
            throw new ArgumentException($"a [{rows}, {cols}] matrix needs {rows * cols} weights and codes and {rows} scales");
        for (int r = 0; r < rows; r++)
        {
            var row = weights.Slice(r * cols, cols);
            float max = 0;
            foreach (float w in row)
            {
                if (!float.IsFinite(w)) throw new ArgumentException($"row {r} has a value that is not finite ({w}): it cannot be quantized");
                max = MathF.Max(max, MathF.Abs(w));
            }
            float scale = max > 0 ? max / Fp8E4M3.MaxValue : 1f;
            scales[r] = scale;
            var target = codes.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++) target[c] = Fp8E4M3.FromSingle(row[c] / scale);
        }
    }

    /// <summary>A quantized row back as float32: each code's value times the row's scale.</summary>
    public static void DequantizeRow(ReadOnlySpan<byte> codes, float scale, Span<float> destination)
    {
        if (destination.Length != codes.Length) throw new ArgumentException($"{codes.Length} codes need as many floats, not {destination.Length}");
        for (int c = 0; c < codes.Length; c++) destination[c] = Fp8E4M3.ToSingle(codes[c]) * scale;
    }
}

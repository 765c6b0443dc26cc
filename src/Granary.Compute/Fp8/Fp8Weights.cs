namespace Granary.Compute.Fp8;

/// <summary>
/// The bytes of an FP8 (<see cref="DType.F8E4M3"/>) weight matrix as checkpoints hand them to
/// <see cref="IBackend.UploadWeight"/>: the E4M3 codes of every row, row after row, then one float32 scale per row
/// (little-endian); element [r, c] = code[r, c] * scale[r]. A slice of whole rows, or of columns of every row, keeps its
/// rows' scales, so tensor-parallel shards of a per-channel or per-tensor FP8 checkpoint load exactly.
/// </summary>
public static class Fp8Weights
{
    /// <summary>Bytes that <paramref name="rows"/> rows of <paramref name="cols"/> codes take with their scales.</summary>
    public static long ByteCount(long rows, long cols) => rows * cols + rows * sizeof(float);

    /// <summary>Rows of <paramref name="rowLength"/> codes that <paramref name="bytes"/> hold with their scales.</summary>
    public static int Rows(int bytes, long rowLength)
    {
        if (rowLength <= 0 || bytes % (rowLength + sizeof(float)) != 0)
            throw new ArgumentException($"{bytes} bytes are not whole FP8 rows of {rowLength} codes and a float32 scale");
        return (int)(bytes / (rowLength + sizeof(float)));
    }

    /// <summary>The codes of an upload, row after row.</summary>
    public static ReadOnlySpan<byte> Codes(ReadOnlySpan<byte> data, long rowLength) => data[..checked((int)(Rows(data.Length, rowLength) * rowLength))];

    /// <summary>The rows' scales of an upload.</summary>
    public static ReadOnlySpan<float> Scales(ReadOnlySpan<byte> data, long rowLength) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data[checked((int)(Rows(data.Length, rowLength) * rowLength))..]);

    /// <summary>Per-row quantization (<see cref="Fp8Quantization.QuantizeRows"/>) of float32 rows, in the upload layout.</summary>
    public static byte[] Quantize(ReadOnlySpan<float> weights, long rowLength)
    {
        if (rowLength <= 0 || weights.Length % rowLength != 0) throw new ArgumentException($"{weights.Length} weights are not whole rows of {rowLength}");
        int rows = (int)(weights.Length / rowLength), cols = (int)rowLength;
        var data = new byte[ByteCount(rows, cols)];
        Fp8Quantization.QuantizeRows(weights, rows, cols, data.AsSpan(0, weights.Length),
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.AsSpan(weights.Length)));
        return data;
    }

    /// <summary>The float32 values of an upload: each code times its row's scale.</summary>
    public static float[] Dequantize(ReadOnlySpan<byte> data, long rowLength)
    {
        var codes = Codes(data, rowLength);
        var scales = Scales(data, rowLength);
        var values = new float[codes.Length];
        for (int r = 0; r < scales.Length; r++)
        {
            int at = (int)(r * rowLength);
            Fp8Quantization.DequantizeRow(codes.Slice(at, (int)rowLength), scales[r], values.AsSpan(at, (int)rowLength));
        }
        return values;
    }
}

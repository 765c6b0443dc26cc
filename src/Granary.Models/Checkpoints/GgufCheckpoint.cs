using System.IO.MemoryMappedFiles;
using Granary.Compute;
using Granary.Tokenizers.Gguf;

namespace Granary.Models.Checkpoints;

/// <summary>
/// The tensors of a Llama-family GGUF file under their Hugging Face names and in Hugging Face layout: ggml's
/// dimensions reversed to row-major, q and k rows moved back from llama.cpp's interleaved RoPE order to
/// rotate-half (the permutation convert_hf_to_gguf applies, undone), F32/F16/BF16/Q8_0 as they are and Q4_0 widened
/// to Q8_0 without loss (its values d * (q - 8) are Q8_0 values of the same scale). The tensors are read into memory
/// at open. Errors name the file and the tensor: an architecture other than llama, an unsupported type, a tensor
/// running past the end of the file.
/// </summary>
internal sealed class GgufCheckpoint : ITensorStore
{
    private const uint F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30;
    private readonly Dictionary<string, byte[]> _data;

    private GgufCheckpoint(string path, GgufFile header, List<SafetensorsTensor> tensors, Dictionary<string, byte[]> data)
    {
        Path = path;
        Header = header;
        Tensors = tensors;
        _data = data;
    }

    public string Path { get; }
    public GgufFile Header { get; }
    public IReadOnlyList<SafetensorsTensor> Tensors { get; }

    /// <summary>Whether <paramref name="path"/> names a GGUF file (by its extension).</summary>
    public static bool IsGguf(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && File.Exists(path);

    public static GgufCheckpoint Open(string path)
    {
        var header = GgufFile.Read(path);
        var config = GgufModelConfig.From(header);
        long length = new FileInfo(path).Length;
        var tensors = new List<SafetensorsTensor>();
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        foreach (var t in header.Tensors)
        {
            if (GgufNames.ToHuggingFace(t.Name) is not { } name) continue;
            long[] shape = t.Dimensions.Reverse().Select(d => checked((long)d)).ToArray();
            long elements = ShapeMath.ElementCount(shape), rowLength = shape[^1];
            var (dtype, stored) = t.GgmlType switch
            {
                F32 => (DType.F32, elements * 4),
                F16 => (DType.F16, elements * 2),
                BF16 => (DType.BF16, elements * 2),
                Q8_0 => (DType.Q8_0, Blocks(path, t, rowLength) * Q8_0Blocks.BlockBytes),
                Q4_0 => (DType.Q8_0, Blocks(path, t, rowLength) * 18),
                _ => throw new NotSupportedException($"{path}: tensor '{t.Name}' has ggml type {t.GgmlType} ({TypeName(t.GgmlType)}); supported: F32, F16, BF16, Q8_0, Q4_0"),
            };
            long start = header.DataOffset + (long)t.Offset;
            if (t.Offset > (ulong)length || start > length - stored)
                throw new InvalidDataException($"{path}: tensor '{t.Name}' ({stored} bytes at {start}) runs past the end of the file ({length} bytes): truncated?");
            var raw = new byte[stored];
            view.ReadArray(start, raw, 0, raw.Length);
            byte[] bytes = t.GgmlType == Q4_0 ? Q4ToQ8(raw) : raw;
            if (name.EndsWith("q_proj.weight", StringComparison.Ordinal)) bytes = Unpermute(bytes, config.NumHeads, shape[0]);
            else if (name.EndsWith("k_proj.weight", StringComparison.Ordinal)) bytes = Unpermute(bytes, config.NumKvHeads, shape[0]);
            data[name] = bytes;
            tensors.Add(new SafetensorsTensor(name, dtype, shape, 0, bytes.Length));
        }
        return new GgufCheckpoint(path, header, tensors, data);
    }

    public ReadOnlySpan<byte> Bytes(SafetensorsTensor tensor, long byteOffset, int byteCount)
    {
        if (!_data.TryGetValue(tensor.Name, out var bytes)) throw new ArgumentException($"{Path}: tensor '{tensor.Name}' does not belong to this file", nameof(tensor));
        return bytes.AsSpan(checked((int)byteOffset), byteCount);
    }

    public void Dispose() => _data.Clear();

    private static long Blocks(string path, GgufTensorInfo t, long rowLength)
    {
        if (rowLength % Q8_0Blocks.BlockLength != 0) throw new InvalidDataException($"{path}: tensor '{t.Name}' has rows of {rowLength}, not whole blocks of {Q8_0Blocks.BlockLength}");
        return t.Dimensions.Aggregate(1L, (a, d) => a * checked((long)d)) / Q8_0Blocks.BlockLength;
    }

    /// <summary>Q4_0 blocks (fp16 d, 16 bytes: elements 0..15 in the low nibbles, 16..31 in the high) as Q8_0 blocks.</summary>
    private static byte[] Q4ToQ8(byte[] q4)
    {
        int blocks = q4.Length / 18;
        var q8 = new byte[blocks * Q8_0Blocks.BlockBytes];
        for (int b = 0; b < blocks; b++)
        {
            var source = q4.AsSpan(b * 18, 18);
            var target = q8.AsSpan(b * Q8_0Blocks.BlockBytes, Q8_0Blocks.BlockBytes);
            source[..2].CopyTo(target);
            for (int i = 0; i < 16; i++)
            {
                target[2 + i] = (byte)(sbyte)((source[2 + i] & 0x0F) - 8);
                target[18 + i] = (byte)(sbyte)((source[2 + i] >> 4) - 8);
            }
        }
        return q8;
    }

    /// <summary>
    /// Rows of q or k from llama.cpp's order (per head, pairs (2j, 2j + 1) of the interleaved rotation) back to
    /// rotate-half: row (h, j) takes row (h, 2j) for j &lt; half, row (h, 2(j - half) + 1) above.
    /// </summary>
    private static byte[] Unpermute(byte[] rows, int heads, long rowCount)
    {
        int rowBytes = checked((int)(rows.Length / rowCount));
        int headDim = checked((int)(rowCount / heads)), half = headDim / 2;
        var result = new byte[rows.Length];
        for (int h = 0; h < heads; h++)
        for (int j = 0; j < headDim; j++)
        {
            int source = h * headDim + (j < half ? 2 * j : 2 * (j - half) + 1);
            rows.AsSpan(source * rowBytes, rowBytes).CopyTo(result.AsSpan((h * headDim + j) * rowBytes, rowBytes));
        }
        return result;
    }

    private static string TypeName(uint type) => type switch
    {
        3 => "Q4_1", 6 => "Q5_0", 7 => "Q5_1", 9 => "Q8_1", 10 => "Q2_K", 11 => "Q3_K", 12 => "Q4_K", 13 => "Q5_K", 14 => "Q6_K", 15 => "Q8_K",
        _ => "unsupported",
    };
}

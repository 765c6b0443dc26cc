using System.Runtime.InteropServices;
using System.Text.Json;
using Granary.Compute;
using Granary.Compute.Fp8;

namespace Granary.Models.Checkpoints;

/// <summary>
/// The scale tensor that goes with an F8_E4M3 weight <c>X.weight</c> of shape [N, K] in a checkpoint, in one of the
/// layouts FP8 checkpoints use: <c>X.weight_scale</c> of shape [] or [1] (per-tensor) or [N] or [N, 1]
/// (per-output-channel), as vLLM's and compressed-tensors' fp8 checkpoints have it; or <c>X.weight_scale_inv</c> of
/// shape [ceil(N / b0), ceil(K / b1)], one scale per b0 x b1 block (Hugging Face's fine-grained FP8, DeepSeek-V3's
/// layout; 128 x 128 unless config.json's <c>quantization_config.weight_block_size</c> says otherwise). A weight with a
/// per-tensor or per-channel scale reads as <see cref="DType.F8E4M3"/> in the <see cref="Fp8Weights"/> layout; block
/// scales have no per-row form, so such a weight reads dequantized as float32 (which the GPU re-quantizes per row:
/// close to, not exactly, the checkpoint's values).
/// </summary>
internal sealed class Fp8Scale
{
    /// <summary>Suffixes of the scale tensors' names after the weight's name.</summary>
    public const string ScaleSuffix = "_scale", BlockScaleSuffix = "_scale_inv";

    /// <summary>The block of <c>weight_scale_inv</c> when config.json does not give one.</summary>
    public const int DefaultBlock = 128;

    private readonly long _rows, _cols;
    private readonly int _blockRows, _blockCols; // 0 unless block scales
    private readonly bool _perTensor;

    public ITensorStore File { get; }
    public SafetensorsTensor Tensor { get; }

    /// <summary>Whether the weight has block scales and so reads as float32.</summary>
    public bool IsBlock => _blockRows > 0;

    /// <summary>How the weight reads: FP8 codes with per-row scales, or float32 for block scales.</summary>
    public DType ReadType => IsBlock ? DType.F32 : DType.F8E4M3;

    private Fp8Scale(ITensorStore file, SafetensorsTensor tensor, long rows, long cols, bool perTensor, int blockRows, int blockCols)
    {
        File = file;
        Tensor = tensor;
        _rows = rows;
        _cols = cols;
        _perTensor = perTensor;
        _blockRows = blockRows;
        _blockCols = blockCols;
    }

    /// <summary>
    /// The scale of every F8_E4M3 tensor of a checkpoint, by the weight's name, each checked against its weight: an
    /// FP8 tensor that is not a matrix, has no scale tensor, or has one of another type or shape is an
    /// <see cref="InvalidDataException"/> naming the file and both tensors.
    /// </summary>
    public static Dictionary<string, Fp8Scale> Find(IReadOnlyDictionary<string, (ITensorStore File, SafetensorsTensor Tensor)> tensors, string directory)
    {
        var scales = new Dictionary<string, Fp8Scale>(StringComparer.Ordinal);
        (int Rows, int Cols)? block = null;
        foreach (var (name, (file, weight)) in tensors)
        {
            if (weight.DType != DType.F8E4M3) continue;
            string where = $"{file.Path}: FP8 tensor '{name}'";
            if (weight.Shape.Length != 2)
                throw new InvalidDataException($"{where} has shape {ShapeMath.Format(weight.Shape)}; FP8 weights must be matrices [out features, in features]");
            long n = weight.Shape[0], k = weight.Shape[1];
            bool hasScale = tensors.TryGetValue(name + ScaleSuffix, out var scale);
            bool hasBlock = tensors.TryGetValue(name + BlockScaleSuffix, out var blockScale);
            if (hasScale == hasBlock)
                throw new InvalidDataException(hasScale
                    ? $"{where} has both '{name}{ScaleSuffix}' and '{name}{BlockScaleSuffix}'; an FP8 weight has one scale tensor"
                    : $"{where} has no scale tensor: expected '{name}{ScaleSuffix}' (per-tensor or per-output-channel) or '{name}{BlockScaleSuffix}' (block scales)");
            var (scaleFile, s) = hasScale ? scale : blockScale;
            if (s.DType is not (DType.F32 or DType.BF16 or DType.F16))
                throw new InvalidDataException($"{scaleFile.Path}: scale tensor '{s.Name}' of FP8 weight '{name}' is {s.DType.SafetensorsName()}; FP8 scales must be F32, BF16 or F16");
            long[] shape = s.Shape;
            if (hasScale)
            {
                bool perTensor = shape is [] or [1];
                bool perChannel = shape.Length is 1 or 2 && shape[0] == n && (shape.Length == 1 || shape[1] == 1);
                if (!perTensor && !perChannel)
                    throw new InvalidDataException(
                        $"{scaleFile.Path}: scale tensor '{s.Name}' has shape {ShapeMath.Format(shape)}, but FP8 weight '{name}' of shape [{n}, {k}] needs [] or [1] (per-tensor) or [{n}] or [{n}, 1] (per-output-channel)");
                scales.Add(name, new Fp8Scale(scaleFile, s, n, k, perTensor, 0, 0));
                continue;
            }
            block ??= BlockSize(directory);
            var (b0, b1) = block.Value;
            long[] expected = [(n + b0 - 1) / b0, (k + b1 - 1) / b1];
            if (!shape.AsSpan().SequenceEqual(expected))
                throw new InvalidDataException(
                    $"{scaleFile.Path}: block scale tensor '{s.Name}' has shape {ShapeMath.Format(shape)}, but FP8 weight '{name}' of shape [{n}, {k}] in blocks of {b0} x {b1} needs {ShapeMath.Format(expected)}");
            scales.Add(name, new Fp8Scale(scaleFile, s, n, k, false, b0, b1));
        }
        return scales;
    }

    /// <summary>Bytes that <paramref name="rows"/> rows of <paramref name="cols"/> columns read as.</summary>
    public long ByteCount(long rows, long cols) => IsBlock ? rows * cols * sizeof(float) : Fp8Weights.ByteCount(rows, cols);

    /// <summary>Rows [start, start + count) of <paramref name="weight"/> as <see cref="ByteCount"/>(count, K) bytes.</summary>
    public void CopyRows(ITensorStore file, SafetensorsTensor weight, long start, long count, Span<byte> dest) =>
        Copy(file, weight, start, count, 0, _cols, dest);

    /// <summary>Columns [start, start + count) of every row of <paramref name="weight"/> as <see cref="ByteCount"/>(N, count) bytes.</summary>
    public void CopyColumns(ITensorStore file, SafetensorsTensor weight, long start, long count, Span<byte> dest) =>
        Copy(file, weight, 0, _rows, start, count, dest);

    private void Copy(ITensorStore file, SafetensorsTensor weight, long rowStart, long rowCount, long colStart, long colCount, Span<byte> dest)
    {
        float[] scales = Values();
        int cols = checked((int)colCount);
        if (IsBlock)
        {
            // Element [r, c] = code * the scale of its block.
            var values = MemoryMarshal.Cast<byte, float>(dest);
            long blockCols = (_cols + _blockCols - 1) / _blockCols;
            for (long r = 0; r < rowCount; r++)
            {
                long row = rowStart + r;
                var codes = file.Bytes(weight, row * _cols + colStart, cols);
                var target = values.Slice(checked((int)(r * cols)), cols);
                for (int c = 0; c < cols; c++)
                    target[c] = Fp8E4M3.ToSingle(codes[c]) * scales[row / _blockRows * blockCols + (colStart + c) / _blockCols];
            }
            return;
        }
        int codeBytes = checked((int)(rowCount * colCount));
        if (colCount == _cols)
            file.Bytes(weight, rowStart * _cols, codeBytes).CopyTo(dest);
        else
            for (long r = 0; r < rowCount; r++)
                file.Bytes(weight, (rowStart + r) * _cols + colStart, cols).CopyTo(dest.Slice(checked((int)(r * cols)), cols));
        var rowScales = MemoryMarshal.Cast<byte, float>(dest[codeBytes..]);
        for (int r = 0; r < rowScales.Length; r++) rowScales[r] = _perTensor ? scales[0] : scales[rowStart + r];
    }

    private float[] Values()
    {
        if (Tensor.ByteLength == 0) return [];
        return HostConversions.ToFloat(Tensor.DType, File.Bytes(Tensor, 0, checked((int)Tensor.ByteLength)));
    }

    /// <summary>config.json's <c>quantization_config.weight_block_size</c> next to the weights, else 128 x 128.</summary>
    private static (int Rows, int Cols) BlockSize(string directory)
    {
        string path = Path.Combine(directory, "config.json");
        if (!System.IO.File.Exists(path)) return (DefaultBlock, DefaultBlock);
        using var doc = JsonFields.ParseFile(path);
        var root = JsonFields.RootObject(doc, path);
        if (JsonFields.OptionalObject(root, "quantization_config", path) is not { } q || !JsonFields.TryGet(q, "weight_block_size", out var size))
            return (DefaultBlock, DefaultBlock);
        if (size.ValueKind != JsonValueKind.Array || size.GetArrayLength() != 2)
            throw JsonFields.WrongType(path, "quantization_config.weight_block_size", "a list of two integers", size);
        int rows = JsonFields.AsInt(size[0], "quantization_config.weight_block_size[0]", path);
        int cols = JsonFields.AsInt(size[1], "quantization_config.weight_block_size[1]", path);
        if (rows < 1 || cols < 1)
            throw new InvalidDataException($"{path}: quantization_config.weight_block_size must be positive, got [{rows}, {cols}]");
        return (rows, cols);
    }
}

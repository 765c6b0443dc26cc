namespace Granary.Tokenizers.Gguf;

/// <summary>A tensor description from a GGUF header.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Dimensions">Dimensions as stored (ggml order: innermost first).</param>
/// <param name="GgmlType">The ggml type code (0 = F32, 1 = F16, 30 = BF16, quantized types...).</param>
/// <param name="Offset">Offset of the data relative to <see cref="GgufFile.DataOffset"/>.</param>
public sealed record GgufTensorInfo(string Name, ulong[] Dimensions, uint GgmlType, ulong Offset);

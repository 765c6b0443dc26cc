namespace Granary.Compute;

/// <summary>Element types of weights, activations and KV cache buffers.</summary>
public enum DType
{
    F32,
    BF16,
    F16,
    I32,

    /// <summary>
    /// llama.cpp's Q8_0 weights: blocks of 32 elements along a row, each an fp16 scale then 32 int8 values
    /// (34 bytes); element = scale * value. <see cref="DTypeExtensions.ByteCount"/> gives a buffer's size.
    /// </summary>
    Q8_0,

    /// <summary>
    /// FP8 E4M3 weight codes (OCP OFP8), one byte an element, each row scaled by one float32: a weight upload of this type
    /// holds the codes of every row then the rows' scales (<see cref="Fp8.Fp8Weights"/>).
    /// </summary>
    F8E4M3,
}

namespace Granary.Compute;

/// <summary>Element types of weights, activations and KV cache buffers.</summary>
public enum DType
{
    F32,
    BF16,
    F16,
    I32,
}

using Granary.Compute;

namespace Granary.Models.Checkpoints;

/// <summary>One tensor entry of a safetensors header.</summary>
/// <param name="Name">Tensor name as written in the header.</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions, outermost first (row-major); empty for a scalar.</param>
/// <param name="Begin">First byte of the tensor, relative to the start of the data section.</param>
/// <param name="End">One past the last byte, relative to the start of the data section.</param>
public sealed record SafetensorsTensor(string Name, DType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of bytes of the tensor (<c>End - Begin</c>).</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount => ShapeMath.ElementCount(Shape);
}

using Granary.Compute;

namespace Granary.Models.Checkpoints;

/// <summary>A tensor of a checkpoint: its name, element type, shape and the file that holds it.</summary>
/// <param name="Name">Tensor name (Hugging Face naming, e.g. <c>model.layers.0.self_attn.q_proj.weight</c>).</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions, outermost first (row-major).</param>
/// <param name="File">Full path of the safetensors file that holds the tensor.</param>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, string File)
{
    /// <summary>Number of elements (product of the shape).</summary>
    public long ElementCount => ShapeMath.ElementCount(Shape);

    /// <summary>Number of bytes.</summary>
    public long ByteLength => DType.ByteCount(ElementCount);
}

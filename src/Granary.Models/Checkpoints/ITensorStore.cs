namespace Granary.Models.Checkpoints;

/// <summary>Where a <see cref="Checkpoint"/>'s tensors live: a memory-mapped safetensors file, or a GGUF file's tensors as loaded.</summary>
internal interface ITensorStore : IDisposable
{
    /// <summary>The file, for error messages.</summary>
    string Path { get; }

    /// <summary>The tensors (Hugging Face names and layout).</summary>
    IReadOnlyList<SafetensorsTensor> Tensors { get; }

    /// <summary>Bytes [byteOffset, byteOffset + byteCount) of one of <see cref="Tensors"/>.</summary>
    ReadOnlySpan<byte> Bytes(SafetensorsTensor tensor, long byteOffset, int byteCount);
}

namespace Granary.Models.Checkpoints;

/// <summary>How far reading (loading) or writing (converting) the tensors of a checkpoint has come.</summary>
/// <param name="File">The safetensors file of the tensor just done.</param>
/// <param name="FileIndex">Its index among <paramref name="FileCount"/> files (0-based).</param>
/// <param name="FileCount">Files of the checkpoint.</param>
/// <param name="DoneBytes">Bytes of the tensors done so far, over every file.</param>
/// <param name="TotalBytes">Bytes of every tensor, over every file.</param>
/// <param name="FileDone">True once every tensor of <paramref name="File"/> is done.</param>
public readonly record struct TensorProgress(string File, int FileIndex, int FileCount, long DoneBytes, long TotalBytes, bool FileDone);

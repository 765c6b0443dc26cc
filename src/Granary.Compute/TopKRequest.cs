namespace Granary.Compute;

/// <summary>The arguments of one <see cref="IBackend.BeginTopK"/>: a later <see cref="IBackend.TopK"/> of the same ones reads its results.</summary>
public readonly record struct TopKRequest(DeviceBuffer Logits, int Rows, int SegmentLength, int Segments, int K);

namespace Granary.Compute;

/// <summary>One target of a multi-projection <see cref="IBackend.MatMul(DeviceBuffer, ReadOnlySpan{Projection}, int, int)"/>: output = x * Weight^T (+ Bias), [rows, OutFeatures].</summary>
public readonly record struct Projection(DeviceBuffer Weight, DeviceBuffer? Bias, DeviceBuffer Output, int OutFeatures);

namespace Granary.Compute;

/// <summary>
/// A flat buffer of <see cref="Length"/> elements of <see cref="DType"/> that lives where a backend
/// computes (host memory for the CPU backend, device memory for CUDA). Shapes are tracked by the caller;
/// backend operations take explicit dimensions.
/// </summary>
public abstract class DeviceBuffer : IDisposable
{
    protected DeviceBuffer(DType dtype, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        DType = dtype;
        Length = length;
    }

    public DType DType { get; }

    /// <summary>Number of elements.</summary>
    public long Length { get; }

    /// <summary>Size in bytes.</summary>
    public long ByteLength => DType.ByteCount(Length);

    public abstract void Dispose();
}

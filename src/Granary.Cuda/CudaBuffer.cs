using Granary.Compute;
using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>Device memory from cuMemAlloc, owned by one <see cref="CudaBackend"/>, or a view of part of another buffer's.</summary>
public sealed class CudaBuffer : DeviceBuffer
{
    private ulong _pointer;
    private readonly bool _owns;

    internal CudaBuffer(CudaBackend owner, DType dtype, long length, ulong pointer, bool owns = true) : base(dtype, length)
    {
        Owner = owner;
        _pointer = pointer;
        _owns = owns;
    }

    internal CudaBackend Owner { get; }

    /// <summary>The device address.</summary>
    public ulong Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(CudaBuffer));

    /// <summary>A copy of a weight matrix in the activation type, made on first use by a GEMM that needs one.</summary>
    internal CudaBuffer? Converted { get; set; }

    public override void Dispose()
    {
        Converted?.Dispose();
        Converted = null;
        if (_pointer == 0) return;
        if (_owns) Owner.Free(_pointer);
        _pointer = 0;
    }
}

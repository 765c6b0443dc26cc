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

    /// <summary>An FP8 weight matrix's float32 scales, one per row (output feature); null for other buffers.</summary>
    internal CudaBuffer? Scales { get; init; }

    /// <summary>An FP8 weight matrix's row length (input features), by which a view of whole rows finds its scales.</summary>
    internal long RowLength { get; init; }

    public override void Dispose()
    {
        Converted?.Dispose();
        Converted = null;
        Scales?.Dispose();
        if (_pointer == 0) return;
        if (_owns) Owner.Free(_pointer);
        _pointer = 0;
    }
}

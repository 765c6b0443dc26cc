using System.Runtime.InteropServices;

namespace Granary.Compute.Cpu;

/// <summary>A 64-byte aligned block of native memory (outside the GC heap, so large weights never move).</summary>
public sealed unsafe class CpuBuffer : DeviceBuffer
{
    private void* _pointer;
    private readonly bool _owns = true;

    public CpuBuffer(DType dtype, long length) : base(dtype, length)
    {
        _pointer = NativeMemory.AlignedAlloc((nuint)Math.Max(ByteLength, 64), 64);
        NativeMemory.Clear(_pointer, (nuint)ByteLength);
    }

    /// <summary>A view of <paramref name="length"/> elements of <paramref name="parent"/> from element <paramref name="offset"/>.</summary>
    internal CpuBuffer(CpuBuffer parent, long offset, long length) : base(parent.DType, length)
    {
        _pointer = (byte*)parent.Pointer + parent.DType.ByteCount(offset);
        _owns = false;
    }

    public void* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(nameof(CpuBuffer));

    public float* Floats => (float*)Pointer;

    public Span<float> AsFloats() => new(Floats, checked((int)Length));

    public override void Dispose()
    {
        if (_pointer == null) return;
        if (_owns) NativeMemory.AlignedFree(_pointer);
        _pointer = null;
    }
}

using System.Runtime.InteropServices;

namespace Granary.Compute.Cpu;

/// <summary>A 64-byte aligned block of native memory (outside the GC heap, so large weights never move).</summary>
public sealed unsafe class CpuBuffer : DeviceBuffer
{
    private void* _pointer;
    private readonly bool _owns = true;

    public CpuBuffer(DType dtype, long length) : this(dtype, length, dtype.ByteCount(length), 0) { }

    /// <summary>Q8_0 rows of <paramref name="rowLength"/> values in <see cref="Q8Tiles"/>: <paramref name="length"/> values in all.</summary>
    internal static CpuBuffer Q8Tiled(long length, int rowLength) => new(DType.Q8_0, length, Q8Tiles.ByteCount(length / rowLength, rowLength), rowLength);

    private CpuBuffer(DType dtype, long length, long bytes, int tiledRowLength) : base(dtype, length)
    {
        _pointer = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64);
        NativeMemory.Clear(_pointer, (nuint)bytes);
        TiledRowLength = tiledRowLength;
    }

    /// <summary>A view of <paramref name="length"/> elements of <paramref name="parent"/> from element <paramref name="offset"/> (of tiled Q8_0 rows: from a whole tile).</summary>
    internal CpuBuffer(CpuBuffer parent, long offset, long length) : base(parent.DType, length)
    {
        TiledRowLength = parent.TiledRowLength;
        if (TiledRowLength == 0) _pointer = (byte*)parent.Pointer + parent.DType.ByteCount(offset);
        else
        {
            // CpuBackend.Slice copies rows that do not begin a tile.
            long tileValues = (long)Q8Tiles.Rows * TiledRowLength;
            System.Diagnostics.Debug.Assert(offset % tileValues == 0);
            _pointer = (byte*)parent.Pointer + offset / tileValues * Q8Tiles.TileBytes(TiledRowLength);
        }
        _owns = false;
    }

    /// <summary>The row length of Q8_0 weights kept in <see cref="Q8Tiles"/>; 0 for every other buffer.</summary>
    internal int TiledRowLength { get; }

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

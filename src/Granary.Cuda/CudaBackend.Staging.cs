using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>The staging ring: pinned host memory through which the step's layout and row lists reach the device, in stream order.</summary>
public sealed unsafe partial class CudaBackend
{
    private ulong Stage<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        long bytes = (long)data.Length * sizeof(T);
        var (host, device) = RingAlloc(bytes);
        data.CopyTo(new Span<T>((void*)host, data.Length));
        if (bytes > 0) CopyToDevice(device, host, bytes);
        return device;
    }

    private (nint Host, ulong Device) RingAlloc(long bytes)
    {
        if (_stepEnded) ReuseRingAfterStep();
        long aligned = (Math.Max(bytes, 1) + 255) & ~255L;
        if (_ringUsed + aligned > _ringBytes)
        {
            Sync();
            if (aligned > _ringBytes) GrowRing(Math.Max(aligned, 2 * _ringBytes));
        }
        long offset = _ringUsed;
        _ringUsed += aligned;
        return (_hostRing + (nint)offset, _deviceRing + (ulong)offset);
    }

    private void GrowRing(long bytes)
    {
        if (_hostRing != 0) Driver.cuMemFreeHost(_hostRing);
        if (_deviceRing != 0) Driver.cuMemFree(_deviceRing);
        Driver.Check(Driver.cuMemHostAlloc(out _hostRing, (nuint)bytes, 0), "cuMemHostAlloc");
        Driver.Check(Driver.cuMemAlloc(out _deviceRing, (nuint)bytes), "cuMemAlloc");
        _ringBytes = bytes;
        _ringUsed = 0;
    }

    /// <summary>Once the work that read it is done: the staging ring is free from its start, and staged layouts are gone.</summary>
    private void FreeRing()
    {
        _ringUsed = 0;
        _layout = null;
        _tablesLayout = null;
    }
}

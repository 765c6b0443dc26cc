using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>
/// The staging ring: pinned host memory through which the step's layout and row lists reach the device, in stream order.
/// It has two halves, and each step stages into the half the step before it did not use: so the host may lay out and
/// record step n+1 while step n still runs and copies from its half (a step whose tokens are fed from step n's top-k is
/// launched before step n is read). A half is reused once the step that last staged there is done (its event).
/// </summary>
public sealed unsafe partial class CudaBackend
{
    private readonly StagingHalf[] _ring = [new(), new()];
    private long _ringBytes; // each half
    private int _ringHalf;
    private bool _ringOpen; // the step being issued stages into _ringHalf

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
        long aligned = (Math.Max(bytes, 1) + 255) & ~255L;
        if (!_ringOpen) OpenRingHalf();
        var half = _ring[_ringHalf];
        if (half.Used + aligned > _ringBytes)
        {
            Sync();
            if (aligned > _ringBytes) GrowRing(Math.Max(aligned, 2 * _ringBytes));
            OpenRingHalf();
            half = _ring[_ringHalf];
        }
        long offset = half.Used;
        half.Used += aligned;
        return (half.Host + (nint)offset, half.Device + (ulong)offset);
    }

    /// <summary>A new step stages into the other half, once the step that last staged there is done.</summary>
    private void OpenRingHalf()
    {
        var half = _ring[_ringHalf ^ 1];
        if (half.Busy)
        {
            WaitFor(half.Done);
            half.Busy = false;
        }
        half.Used = 0;
        _ringHalf ^= 1;
        _ringOpen = true;
        // Layouts staged so far live in the other half: this step stages its own.
        _layout = null;
        _tablesLayout = null;
    }

    /// <summary>At the end of a step (its ops issued): marks when the device is done with what it staged.</summary>
    private void CloseRingHalf()
    {
        if (!_ringOpen) return;
        var half = _ring[_ringHalf];
        Driver.Check(Driver.cuEventRecord(half.Done, _stream), "cuEventRecord");
        half.Busy = true;
        _ringOpen = false;
    }

    /// <summary>Both halves at <paramref name="bytes"/> each; the stream must be idle.</summary>
    private void GrowRing(long bytes)
    {
        foreach (var half in _ring)
        {
            if (half.Host != 0) Driver.cuMemFreeHost(half.Host);
            if (half.Device != 0) Driver.cuMemFree(half.Device);
            Driver.Check(Driver.cuMemHostAlloc(out half.Host, (nuint)bytes, 0), "cuMemHostAlloc");
            Driver.Check(Driver.cuMemAlloc(out half.Device, (nuint)bytes), "cuMemAlloc");
            if (half.Done == 0) Driver.Check(Driver.cuEventCreate(out half.Done, Driver.EventDisableTiming), "cuEventCreate");
            half.Used = 0;
            half.Busy = false;
        }
        _ringBytes = bytes;
        _ringOpen = false;
    }

    /// <summary>Once the stream is idle: the staging ring is free, and staged layouts are gone.</summary>
    private void FreeRing()
    {
        foreach (var half in _ring)
        {
            half.Used = 0;
            half.Busy = false;
        }
        _ringOpen = false;
        _layout = null;
        _tablesLayout = null;
    }

    private void FreeRingMemory()
    {
        foreach (var half in _ring)
        {
            if (half.Host != 0) Driver.cuMemFreeHost(half.Host);
            if (half.Device != 0) Driver.cuMemFree(half.Device);
            if (half.Done != 0) Driver.cuEventDestroy(half.Done);
        }
    }
}

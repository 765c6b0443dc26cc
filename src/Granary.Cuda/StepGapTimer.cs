using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>
/// Times, on the device, how long the stream sits idle between one step graph's end and the next one's start: the
/// time the host takes between steps when it is on the critical path (zero when the next step was queued in time).
/// Events are recorded around each graph launch; a gap is read a few launches later, when both of its events are
/// long done, so that reading never waits on the device.
/// </summary>
public sealed class StepGapTimer : IDisposable
{
    // Launches whose events are kept; a gap is read Lag launches after it, when the steps around it were long synced.
    private const int Ring = 8;
    private const int Lag = 4;
    private readonly nint[] _start = new nint[Ring];
    private readonly nint[] _end = new nint[Ring];
    private readonly List<double> _gapsUs = [];
    private long _launches;

    internal StepGapTimer()
    {
        for (int i = 0; i < Ring; i++)
        {
            Driver.Check(Driver.cuEventCreate(out _start[i], 0), "cuEventCreate");
            Driver.Check(Driver.cuEventCreate(out _end[i], 0), "cuEventCreate");
        }
    }

    /// <summary>Gaps measured so far, in microseconds, in launch order.</summary>
    internal IReadOnlyList<double> GapsMicroseconds => _gapsUs;

    /// <summary>Forgets the gaps measured so far (and the launch before this point, so no gap spans the reset).</summary>
    internal void Reset()
    {
        _gapsUs.Clear();
        _launches = 0;
    }

    internal void BeforeLaunch(nint stream)
    {
        Driver.Check(Driver.cuEventRecord(_start[_launches % Ring], stream), "cuEventRecord");
    }

    internal void AfterLaunch(nint stream)
    {
        Driver.Check(Driver.cuEventRecord(_end[_launches % Ring], stream), "cuEventRecord");
        _launches++;
        // The gap before launch n - Lag + 1: from the end of launch n - Lag to its start.
        long next = _launches - Lag;
        if (next >= 1) Read(next - 1, next);
    }

    /// <summary>Reads the gaps not yet read (the device is synchronized first): for the end of a measurement.</summary>
    internal void Flush(nint stream)
    {
        Driver.Check(Driver.cuStreamSynchronize(stream), "cuStreamSynchronize");
        for (long next = Math.Max(1, _launches - Lag + 1); next < _launches; next++) Read(next - 1, next);
    }

    private void Read(long previous, long next)
    {
        Driver.Check(Driver.cuEventSynchronize(_start[next % Ring]), "cuEventSynchronize");
        Driver.Check(Driver.cuEventElapsedTime(out float ms, _end[previous % Ring], _start[next % Ring]), "cuEventElapsedTime");
        _gapsUs.Add(ms * 1000.0);
    }

    public void Dispose()
    {
        for (int i = 0; i < Ring; i++)
        {
            Driver.cuEventDestroy(_start[i]);
            Driver.cuEventDestroy(_end[i]);
        }
    }
}

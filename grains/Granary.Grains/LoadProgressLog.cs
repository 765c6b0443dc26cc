using Granary.Models.Checkpoints;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// A replica's weight loading as log lines, a silo's form of the CLI's progress bar: a line every
/// <see cref="Interval"/> while the checkpoint is read, so a small model loads in silence (its "serves here" line
/// says how long it took) and an 8B one shows how far it got. Told of each tensor on the loading thread.
/// </summary>
internal sealed partial class LoadProgressLog(ILogger logger, string replica, TimeProvider time) : IProgress<TensorProgress>
{
    /// <summary>Time between lines. 5 s.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    private readonly long _started = time.GetTimestamp();
    private long _lastLine = time.GetTimestamp();

    public void Report(TensorProgress value)
    {
        long now = time.GetTimestamp();
        if (time.GetElapsedTime(_lastLine, now) < Interval || value.TotalBytes <= 0 || value.DoneBytes >= value.TotalBytes) return;
        _lastLine = now;
        Reading(logger, replica, 100.0 * value.DoneBytes / value.TotalBytes, value.DoneBytes / 1e6, value.TotalBytes / 1e6, time.GetElapsedTime(_started, now).TotalSeconds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} is loading: {Percent:F0}% of its weights read ({DoneMB:F0} of {TotalMB:F0} MB) in {Seconds:F0} s")]
    private static partial void Reading(ILogger logger, string replica, double percent, double doneMB, double totalMB, double seconds);
}

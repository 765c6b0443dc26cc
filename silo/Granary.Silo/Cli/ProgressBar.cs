using System.Diagnostics;

namespace Granary.Silo.Cli;

/// <summary>
/// Progress of long work on stderr. On a terminal: a bar rewritten in place, at most ten times a second, ended
/// when the work reaches its total or <see cref="Done"/> is called. Otherwise (a pipe, a log file, a test's writer):
/// a plain line at each step the caller marks as a milestone (a file loaded, a batch measured), never a bar.
/// Thread-safe.
/// </summary>
internal sealed class ProgressBar(TextWriter error, string title)
{
    private const int Width = 30;
    private const long RedrawMs = 100;

    private readonly bool _terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private long _drawnAtMs = -RedrawMs;
    private bool _open;

    /// <summary>Seconds since the bar was made (for rates in the detail text).</summary>
    public double ElapsedSeconds => _clock.Elapsed.TotalSeconds;

    /// <summary>Shows <paramref name="done"/> of <paramref name="total"/> with <paramref name="detail"/>; a milestone is also a plain line off a terminal.</summary>
    public void Report(double done, double total, string detail, bool milestone = false)
    {
        lock (_lock)
        {
            if (!_terminal)
            {
                if (milestone) error.WriteLine($"{title}: {detail}");
                return;
            }
            bool finished = done >= total;
            long now = _clock.ElapsedMilliseconds;
            if (!finished && now - _drawnAtMs < RedrawMs) return;
            _drawnAtMs = now;
            double fraction = total > 0 ? Math.Clamp(done / total, 0, 1) : 0;
            int filled = (int)(fraction * Width);
            // \e[K clears what a longer previous line left.
            error.Write($"\r{title} [{new string('#', filled)}{new string('.', Width - filled)}] {fraction * 100,3:F0}% {detail}\u001b[K");
            _open = !finished;
            if (finished) error.WriteLine();
        }
    }

    /// <summary>Ends the bar's line on a terminal (when the work stopped short of its total); off a terminal writes <paramref name="summary"/>, if any.</summary>
    public void Done(string? summary = null)
    {
        lock (_lock)
        {
            if (_terminal && _open) error.WriteLine();
            else if (!_terminal && summary is not null) error.WriteLine($"{title}: {summary}");
            _open = false;
        }
    }
}

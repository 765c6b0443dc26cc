using System.Diagnostics;

namespace Granary.Silo.Cli;

/// <summary>A progress line on stderr, rewritten at most twice a second, shown only once work takes longer than a second.</summary>
internal sealed class ProgressLine(TextWriter error)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastMs = 1000 - 500;
    private bool _shown;

    public void Report(Func<string> text)
    {
        long now = _clock.ElapsedMilliseconds;
        if (now < 1000 || now - _lastMs < 500) return;
        _lastMs = now;
        _shown = true;
        error.Write($"\r{text()}   ");
    }

    public void Done()
    {
        if (_shown) error.WriteLine();
    }
}

using Granary.Grains;
using Granary.Models.Checkpoints;
using Granary.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace Granary.Grains.Tests;

public sealed class LoadProgressLogTests
{
    [Fact]
    public void ALineComesEveryIntervalWhileTheWeightsAreReadAndNoneAtTheEnd()
    {
        var captured = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(captured));
        var clock = new ManualClock();
        var progress = new LoadProgressLog(loggers.CreateLogger("load"), "llama/0", clock);
        long total = 8_000_000_000;
        TensorProgress At(long done) => new("model.safetensors", 0, 1, done, total, FileDone: done == total);

        progress.Report(At(1_000_000_000)); // at once: nothing yet
        clock.Advance(LoadProgressLog.Interval);
        progress.Report(At(2_000_000_000));
        clock.Advance(TimeSpan.FromSeconds(1));
        progress.Report(At(3_000_000_000)); // within the interval of the last line
        clock.Advance(LoadProgressLog.Interval);
        progress.Report(At(total)); // the end: the replica's "serves here" line says it

        var line = Assert.Single(captured.Entries).Message;
        Assert.Equal("Replica llama/0 is loading: 25% of its weights read (2000 of 8000 MB) in 5 s", line);
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}

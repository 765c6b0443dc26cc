using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Granary.Engine;

/// <summary>
/// Untimed generation before a model serves or is measured. The .NET JIT first compiles a step's code without
/// optimizations (tier 0) and replaces it only after enough calls and a quiet spell; on a GPU, where a step takes
/// about a millisecond, that first code costs the host more than the kernels' launch budget (75-98 us to issue a
/// step on an H100, against 9-12 us once optimized), and on the CPU a server's first minute ran 15-25% slower
/// (stories15M, tp 2, 2 cores). Batches of 1 and 2 also capture their step graphs.
/// </summary>
public static partial class EngineWarmup
{
    /// <summary>What serve and silos warm up for unless told: 2 s on a GPU, 0.5 s on the CPU.</summary>
    public static TimeSpan DefaultDuration(string device) =>
        TimeSpan.FromSeconds(device.StartsWith("cpu", StringComparison.OrdinalIgnoreCase) ? 0.5 : 2);

    /// <summary>Generates from random prompts, one and two at a time, for at least <paramref name="duration"/> (once when it is zero); returns the steps run.</summary>
    public static int Run(LlmEngine engine, int vocabSize, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        // Completes synchronously, as Step does.
        return RunAsync(engine, vocabSize, duration, static e =>
        {
            e.Step();
            return ValueTask.CompletedTask;
        }, cancellationToken).GetAwaiter().GetResult();
    }

    /// <summary>
    /// What serve and a replica's session run before they serve: <see cref="Run"/> through <see cref="LlmEngine.StepAsync"/>
    /// (the serving loop's step, which awaits executors whose ranks run in other processes) for
    /// <paramref name="duration"/> (null: <see cref="DefaultDuration"/> of <paramref name="device"/>; zero: none), logged
    /// as <paramref name="what"/> warmed up.
    /// </summary>
    public static async Task WarmUpAsync(LlmEngine engine, int vocabSize, TimeSpan? duration, string device, string what, ILogger logger, CancellationToken cancellationToken = default)
    {
        var wait = duration ?? DefaultDuration(device);
        if (wait <= TimeSpan.Zero) return;
        var clock = Stopwatch.StartNew();
        int steps = await RunAsync(engine, vocabSize, wait, static async e => await e.StepAsync().ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        LogWarmedUp(logger, what, steps, clock.Elapsed.TotalSeconds);
    }

    private static async ValueTask<int> RunAsync(LlmEngine engine, int vocabSize, TimeSpan duration, Func<LlmEngine, ValueTask> step, CancellationToken cancellationToken)
    {
        var random = new Random(1);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 32, IgnoreEos = true };
        var clock = Stopwatch.StartNew();
        int steps = 0;
        do
        {
            for (int batch = 1; batch <= 2; batch++)
            {
                for (int i = 0; i < batch; i++) engine.Add(Enumerable.Range(0, 16).Select(_ => random.Next(3, vocabSize)).ToArray(), sampling);
                while (engine.HasWork)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await step(engine).ConfigureAwait(false);
                    steps++;
                }
            }
        }
        while (clock.Elapsed < duration);
        return steps;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{What} warmed up: {Steps} untimed steps in {Seconds:F1} s")]
    private static partial void LogWarmedUp(ILogger logger, string what, int steps, double seconds);
}

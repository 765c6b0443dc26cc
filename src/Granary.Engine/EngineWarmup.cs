using System.Diagnostics;

namespace Granary.Engine;

/// <summary>
/// Untimed generation before a model serves or is measured. The .NET JIT first compiles a step's code without
/// optimizations (tier 0) and replaces it only after enough calls and a quiet spell; on a GPU, where a step takes
/// about a millisecond, that first code costs the host more than the kernels' launch budget (75-98 us to issue a
/// step on an H100, against 9-12 us once optimized), and on the CPU a server's first minute ran 15-25% slower
/// (stories15M, tp 2, 2 cores). Batches of 1 and 2 also capture their step graphs.
/// </summary>
public static class EngineWarmup
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
    /// <see cref="Run"/> through <see cref="LlmEngine.StepAsync"/>, the serving loop's step (which awaits executors whose
    /// ranks run in other processes): what a replica's session runs before it serves.
    /// </summary>
    public static ValueTask<int> RunAsync(LlmEngine engine, int vocabSize, TimeSpan duration, CancellationToken cancellationToken = default) =>
        RunAsync(engine, vocabSize, duration, static async e => await e.StepAsync().ConfigureAwait(false), cancellationToken);

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
}

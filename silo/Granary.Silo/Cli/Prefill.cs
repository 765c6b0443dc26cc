using System.Diagnostics;
using Granary.Engine;

namespace Granary.Silo.Cli;

/// <summary>
/// Time to prefill one sequence's prompt (what llama-bench's pp128 and pp512 measure): rounds of a fresh random
/// prompt, each timed until its first token, best and median reported (the best is the one least disturbed by other
/// work on the machine).
/// </summary>
internal static class Prefill
{
    public sealed record Result(int Tokens, double BestTokensPerSecond, double MedianTokensPerSecond);

    /// <summary>Prefills <paramref name="length"/> tokens (at most the context less one) <paramref name="rounds"/> times.</summary>
    /// <param name="prompts">
    /// Draws the prompts' ids: one for the whole benchmark, so that no prompt repeats another's first blocks and the
    /// prefix cache serves none of them (a generator seeded afresh per length made pp255 and pp512 start with the
    /// pp128 prompt's tokens, and their best rounds read 240 cached tokens).
    /// </param>
    public static Result Run(LlmEngine engine, int vocabSize, int length, int rounds, Random prompts)
    {
        if (length < 1) throw new ArgumentException($"a prefill length must be at least 1, got {length}");
        int tokens = Math.Min(length, engine.MaxModelLength - 1);
        var seconds = new double[rounds];
        for (int round = 0; round < rounds; round++)
        {
            var ids = Enumerable.Range(0, tokens).Select(_ => prompts.Next(3, vocabSize)).ToArray();
            var sequence = engine.Add(ids, new SamplingParams { Temperature = 0, MaxTokens = 1, IgnoreEos = true });
            long start = Stopwatch.GetTimestamp();
            while (sequence.OutputLength == 0) engine.Step();
            seconds[round] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (sequence.CachedTokens > 0) throw new InvalidOperationException($"prefill round {round + 1} of {tokens} tokens read {sequence.CachedTokens} from the prefix cache: it would not measure a prefill");
            while (engine.HasWork) engine.Step();
        }
        Array.Sort(seconds);
        return new Result(tokens, tokens / seconds[0], tokens / seconds[rounds / 2]);
    }
}

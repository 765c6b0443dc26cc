using Granary.Engine;

namespace Granary.Parallel.Tests;

/// <summary>Asserts that a parallel run gave the single-rank run's tokens and top logprobs.</summary>
internal static class SameAnswers
{
    public const float Tolerance = 1e-4f;

    public static void Assert(string what, Runs.Output[] expected, Runs.Output[] actual)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int s = 0; s < expected.Length; s++)
        {
            Xunit.Assert.True(expected[s].Tokens.SequenceEqual(actual[s].Tokens),
                $"{what} prompt {s}: tokens [{string.Join(',', actual[s].Tokens)}], single rank [{string.Join(',', expected[s].Tokens)}]");
            for (int t = 0; t < expected[s].Logprobs.Count; t++)
                Positions($"{what} prompt {s} token {t}", expected[s].Logprobs[t], actual[s].Logprobs[t]);
        }
    }

    public static void Positions(string what, GeneratedTokenLogprobs expected, GeneratedTokenLogprobs actual)
    {
        Xunit.Assert.Equal(expected.TokenId, actual.TokenId);
        Xunit.Assert.True(Math.Abs(expected.Logprob - actual.Logprob) <= Tolerance, $"{what}: logprob {actual.Logprob}, single rank {expected.Logprob}");
        var reference = expected.Top.ToDictionary(a => a.TokenId, a => a.Logprob);
        for (int i = 0; i < actual.Top.Length; i++)
        {
            var alternative = actual.Top[i];
            // Alternatives tied within the tolerance may trade places at the end of the list.
            if (!reference.TryGetValue(alternative.TokenId, out float logprob))
            {
                Xunit.Assert.True(i > 0 && Math.Abs(expected.Top[i].Logprob - alternative.Logprob) <= Tolerance,
                    $"{what}: top alternative {alternative.TokenId} ({alternative.Logprob}) is not among the single rank's");
                continue;
            }
            Xunit.Assert.True(Math.Abs(logprob - alternative.Logprob) <= Tolerance, $"{what}: alternative {alternative.TokenId} logprob {alternative.Logprob}, single rank {logprob}");
        }
    }
}

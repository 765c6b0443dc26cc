namespace Granary.Compute.Tests;

/// <summary>The host's top-k and log-sum-exp (the CPU backend's TopK and the sampler's log-probabilities).</summary>
public class TopLogitsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(1001)]
    [InlineData(32000)]
    public void LogSumExpEqualsTheDoubleSumWithNaNLeftOut(int length)
    {
        var random = new Random(length);
        float[] logits = new float[length];
        for (int i = 0; i < length; i++) logits[i] = (float)(random.NextDouble() * 40 - 30);
        if (length > 3)
        {
            logits[1] = float.NaN;
            logits[2] = float.NegativeInfinity;
        }
        float max = logits.Where(l => !float.IsNaN(l)).Max();
        double sum = logits.Where(l => !float.IsNaN(l)).Sum(l => Math.Exp(l - (double)max));
        float expected = max + (float)Math.Log(sum);
        float got = TopLogits.LogSumExp(logits, max);
        Assert.True(Math.Abs(got - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{got} against {expected}");
    }

    [Fact]
    public void SelectGivesTheLargestWithTheLowerIdFirstOnTies()
    {
        float[] logits = [0.5f, 3f, float.NaN, 3f, -1f, 2f, 0f, 1f, 2.5f];
        int[] ids = new int[3];
        float[] values = new float[3];
        float logZ = TopLogits.Select(logits, ids, values);
        Assert.Equal([1, 3, 8], ids);
        Assert.Equal([3f, 3f, 2.5f], values);
        Assert.Equal(TopLogits.LogSumExp(logits, 3f), logZ);
    }
}

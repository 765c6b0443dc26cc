namespace Granary.Cluster.Tests;

/// <summary>Polls a condition until it holds or a deadline passes: no fixed sleeps that are too short on a busy machine.</summary>
public static class Eventually
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    public static Task TrueAsync(Func<bool> condition, string what) => TrueAsync(() => Task.FromResult(condition()), what);

    public static async Task TrueAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"not true after {Deadline.TotalSeconds} s: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Checks that a condition stays true for <paramref name="duration"/> (for what must not happen).</summary>
    public static async Task StaysTrueAsync(Func<Task<bool>> condition, TimeSpan duration, string what)
    {
        var end = DateTime.UtcNow + duration;
        while (DateTime.UtcNow < end)
        {
            Assert.True(await condition(), what);
            await Task.Delay(50);
        }
    }
}

namespace Granary.Cuda.Tests;

/// <summary>The GPU checks, run by xunit where a GPU is present (never in CI); scripts/gpu runs them through Program.</summary>
public class GpuChecksTests
{
    [Fact]
    public void OpsMatchTheCpuBackend()
    {
        if (!GpuPresence.Available) return;
        Assert.Equal(0, OpChecks.Run(Console.Out));
    }

    [Fact]
    public void FixturesMatchTheCpuBackend()
    {
        if (!GpuPresence.Available) return;
        string root = Path.Combine(AppContext.BaseDirectory, "data", "fixtures");
        Assert.Equal(0, FixtureChecks.Run(Directory.GetDirectories(root), Console.Out));
    }

    [Fact]
    public void NcclAndTheStagedCollectivesWorkOnOneGpu()
    {
        if (!GpuPresence.Available) return;
        Assert.Equal(0, NcclChecks.Run(Console.Out));
    }
}

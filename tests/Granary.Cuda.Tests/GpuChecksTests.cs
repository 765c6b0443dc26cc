namespace Granary.Cuda.Tests;

/// <summary>The GPU checks, run by xunit where a GPU is present (never in CI); scripts/gpu runs them through Program.</summary>
public class GpuChecksTests
{
    [Fact]
    public void OpsMatchTheCpuBackend()
    {
        GpuPresence.Require();
        Assert.Equal(0, OpChecks.Run(Console.Out));
    }

    [Fact]
    public void FixturesMatchTheCpuBackend()
    {
        GpuPresence.Require();
        string root = Path.Combine(AppContext.BaseDirectory, "data", "fixtures");
        Assert.Equal(0, FixtureChecks.Run(Directory.GetDirectories(root), Console.Out));
    }

    [Fact]
    public void NcclAndTheStagedCollectivesWorkOnOneGpu()
    {
        GpuPresence.Require();
        Assert.Equal(0, NcclChecks.Run(Console.Out));
    }
}

using Granary.Cluster.Transport;

namespace Granary.Cluster.Transport.Tests;

public sealed class ControlPathBenchmarkTests
{
    [Fact]
    public async Task Benchmark_runs_and_reports_ordered_percentiles()
    {
        var result = await ControlPathBenchmark.RunAsync(300, 1024, 64, default);

        Assert.Equal(300, result.Calls);
        Assert.True(result.MinMicroseconds > 0);
        Assert.True(result.MinMicroseconds <= result.MedianMicroseconds);
        Assert.True(result.MedianMicroseconds <= result.P99Microseconds);
        Assert.True(result.P99Microseconds <= result.MaxMicroseconds);
    }
}

namespace Granary.Cluster.Transport;

/// <summary>What <see cref="ControlPathBenchmark"/> measured: round trips of one call on loopback, in microseconds.</summary>
public sealed record ControlPathResult(
    int Calls,
    int RequestBytes,
    int ResponseBytes,
    double MeanMicroseconds,
    double MedianMicroseconds,
    double P99Microseconds,
    double MinMicroseconds,
    double MaxMicroseconds,
    double AllocatedBytesPerCall)
{
    public override string ToString() =>
        $"{Calls} calls, {RequestBytes} B -> {ResponseBytes} B: mean {MeanMicroseconds:0.0} us, median {MedianMicroseconds:0.0} us, " +
        $"p99 {P99Microseconds:0.0} us, min {MinMicroseconds:0.0} us, max {MaxMicroseconds:0.0} us, {AllocatedBytesPerCall:0} B allocated a call (both ends)";
}

namespace Granary.Grains.Contracts;

/// <summary>Round trips of sequential grain calls from one silo to another (<see cref="ISiloGrain.TimeCallsAsync"/>).</summary>
[GenerateSerializer, Immutable]
public sealed record CallTimings(
    [property: Id(0)] int Calls,
    [property: Id(1)] int RequestBytes,
    [property: Id(2)] int ResponseBytes,
    [property: Id(3)] double MeanMicroseconds,
    [property: Id(4)] double MedianMicroseconds,
    [property: Id(5)] double P99Microseconds,
    [property: Id(6)] double MinMicroseconds,
    [property: Id(7)] double MaxMicroseconds)
{
    public override string ToString() =>
        $"{Calls} calls, {RequestBytes} B -> {ResponseBytes} B: mean {MeanMicroseconds:0.0} us, median {MedianMicroseconds:0.0} us, " +
        $"p99 {P99Microseconds:0.0} us, min {MinMicroseconds:0.0} us, max {MaxMicroseconds:0.0} us";
}

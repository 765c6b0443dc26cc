using System.Diagnostics.Metrics;

namespace Granary.Engine;

/// <summary>One of <see cref="ServingMetrics"/>' latency histograms (seconds), recorded with the owner's model name.</summary>
public sealed class LatencyHistogram
{
    private readonly Histogram<double> _histogram;
    private readonly ServingMetrics _owner;

    internal LatencyHistogram(Histogram<double> histogram, ServingMetrics owner)
    {
        _histogram = histogram;
        _owner = owner;
    }

    /// <summary>Records one latency; allocation-free (a single tag travels on the stack).</summary>
    public void Observe(double seconds) => _histogram.Record(seconds, new KeyValuePair<string, object?>(GranaryTelemetry.ModelNameTag, _owner.ModelName));
}

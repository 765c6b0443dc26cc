using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Granary.Engine;

/// <summary>
/// The <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="ActivitySource"/> named "Granary": serving metrics
/// (see <see cref="ServingMetrics"/>) and spans of requests and engine steps. Both cost nothing until something
/// (OpenTelemetry in the server) listens.
/// </summary>
public static class GranaryTelemetry
{
    public const string Name = "Granary";

    /// <summary>The label every serving metric carries, as vLLM's do.</summary>
    public const string ModelNameTag = "model_name";

    public static Meter Meter { get; } = new(Name);

    public static ActivitySource Source { get; } = new(Name);
}

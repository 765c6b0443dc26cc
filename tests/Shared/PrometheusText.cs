using System.Globalization;

namespace Granary.Tests.Shared;

/// <summary>Reads values out of /metrics (Prometheus text, as OpenTelemetry's exporter writes it).</summary>
internal static class PrometheusText
{
    /// <summary>The sum of the series of <paramref name="name"/> whose labels include each of <paramref name="labels"/> (such as <c>status="200"</c>); fails when there is none.</summary>
    public static double Metric(string metrics, string name, params string[] labels) =>
        TryMetric(metrics, name, labels) ?? throw new Xunit.Sdk.XunitException($"metric {name} {string.Join(",", labels)} not found in\n{metrics}");

    /// <summary>As <see cref="Metric"/>, null when no series matches.</summary>
    public static double? TryMetric(string metrics, string name, params string[] labels)
    {
        double? sum = null;
        foreach (string line in metrics.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length || line[name.Length] is not ('{' or ' ')) continue;
            int end = line[name.Length] == '{' ? line.IndexOf('}') + 1 : name.Length;
            string series = line[name.Length..end];
            if (!labels.All(label => series.Contains(label, StringComparison.Ordinal))) continue;
            // "name{labels} value [timestamp]"
            sum = (sum ?? 0) + double.Parse(line[end..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return sum;
    }
}

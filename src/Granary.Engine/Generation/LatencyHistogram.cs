using System.Globalization;
using System.Text;

namespace Granary.Engine;

/// <summary>A Prometheus histogram of seconds with fixed buckets; thread-safe.</summary>
public sealed class LatencyHistogram(string name, string help, double[] buckets)
{
    private readonly long[] _counts = new long[buckets.Length + 1];
    private readonly Lock _lock = new();
    private double _sum;
    private long _count;

    public long Count => Volatile.Read(ref _count);

    public void Observe(double seconds)
    {
        int i = 0;
        while (i < buckets.Length && seconds > buckets[i]) i++;
        lock (_lock)
        {
            _counts[i]++;
            _sum += seconds;
            _count++;
        }
    }

    public void WriteTo(StringBuilder text)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" histogram\n");
        lock (_lock)
        {
            long cumulative = 0;
            for (int i = 0; i < buckets.Length; i++)
            {
                cumulative += _counts[i];
                text.Append(name).Append("_bucket{le=\"").Append(buckets[i].ToString(CultureInfo.InvariantCulture)).Append("\"} ").Append(cumulative).Append('\n');
            }
            text.Append(name).Append("_bucket{le=\"+Inf\"} ").Append(_count).Append('\n');
            text.Append(name).Append("_sum ").Append(_sum.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            text.Append(name).Append("_count ").Append(_count).Append('\n');
        }
    }
}

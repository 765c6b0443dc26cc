using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Granary.Engine;

/// <summary>
/// The instruments of <see cref="ServingMetrics"/> on the Granary meter, created once per process. The gauges and
/// counters are observed at collection time from every live <see cref="ServingMetrics"/> (the engine thread only
/// bumps plain fields), summed by model name; the histograms are recorded as requests go.
/// Exported to Prometheus they read granary_num_requests_running, granary_time_to_first_token_seconds... (vLLM's names).
/// </summary>
internal static class ServingInstruments
{
    private static readonly ConcurrentDictionary<ServingMetrics, byte> Live = new(ReferenceEqualityComparer.Instance);

    // vLLM's buckets (vllm/v1/metrics/loggers.py), so that dashboards made for it read ours alike.
    private static readonly double[] TtftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
    private static readonly double[] TpotBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
    private static readonly double[] E2eBuckets = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

    public static Histogram<double> TimeToFirstToken { get; } = Histogram("granary.time_to_first_token", "Time from arrival to the first generated token.", TtftBuckets);
    public static Histogram<double> TimePerOutputToken { get; } = Histogram("granary.time_per_output_token", "Time between two tokens of one sequence.", TpotBuckets);
    public static Histogram<double> EndToEndLatency { get; } = Histogram("granary.e2e_request_latency", "Time from arrival to the last token of a sequence.", E2eBuckets);
    public static Counter<long> Requests { get; } = GranaryTelemetry.Meter.CreateCounter<long>("granary.requests", "{request}", "HTTP requests by endpoint and status code (499: the client went away).");

    static ServingInstruments()
    {
        var meter = GranaryTelemetry.Meter;
        meter.CreateObservableGauge("granary.num_requests_running", () => Observe(m => m.RunningSequences), "{sequence}", "Sequences in the running batch.");
        meter.CreateObservableGauge("granary.num_requests_waiting", () => Observe(m => m.WaitingSequences), "{sequence}", "Sequences waiting to start.");
        meter.CreateObservableGauge("granary.kv_cache_used_blocks", () => Observe(m => m.KvCacheUsedBlocks), "{block}", "KV blocks held by sequences.");
        meter.CreateObservableGauge("granary.kv_cache_total_blocks", () => Observe(m => m.KvCacheTotalBlocks), "{block}", "KV blocks in the cache.");
        meter.CreateObservableGauge("granary.kv_cache_usage_perc", KvUsage, description: "KV cache usage (1 = full).");
        meter.CreateObservableCounter("granary.prompt_tokens", () => Observe(m => m.PromptTokensTotal), "{token}", "Prompt tokens of admitted sequences.");
        meter.CreateObservableCounter("granary.generation_tokens", () => Observe(m => m.GenerationTokensTotal), "{token}", "Generated tokens.");
        meter.CreateObservableCounter("granary.prefix_cache_queries", () => Observe(m => m.PromptTokensTotal), "{token}", "Prompt tokens looked up in the prefix cache.");
        meter.CreateObservableCounter("granary.prefix_cache_hits", () => Observe(m => m.CachedPromptTokensTotal), "{token}", "Prompt tokens served from the prefix cache.");
        meter.CreateObservableCounter("granary.num_preemptions", () => Observe(m => m.PreemptionsTotal), "{preemption}", "Sequences preempted for lack of KV blocks.");
        meter.CreateObservableCounter("granary.aborted_sequences", () => Observe(m => m.AbortedSequences), "{sequence}", "Sequences cancelled before they finished.");
        meter.CreateObservableCounter("granary.engine_errors", () => Observe(m => m.EngineErrorsTotal), "{step}", "Engine steps that failed.");
    }

    public static void Add(ServingMetrics metrics) => Live.TryAdd(metrics, 0);

    public static void Remove(ServingMetrics metrics) => Live.TryRemove(metrics, out _);

    private static Histogram<double> Histogram(string name, string description, double[] buckets) =>
        GranaryTelemetry.Meter.CreateHistogram(name, "s", description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    private static IEnumerable<Measurement<long>> Observe(Func<ServingMetrics, long> read) =>
        Live.Keys.GroupBy(m => m.ModelName).Select(g => new Measurement<long>(g.Sum(read), Tag(g.Key)));

    private static IEnumerable<Measurement<double>> KvUsage() => Live.Keys.GroupBy(m => m.ModelName).Select(g =>
    {
        long total = g.Sum(m => m.KvCacheTotalBlocks);
        return new Measurement<double>(total == 0 ? 0 : (double)g.Sum(m => m.KvCacheUsedBlocks) / total, Tag(g.Key));
    });

    private static KeyValuePair<string, object?> Tag(string model) => new(GranaryTelemetry.ModelNameTag, model);
}

using System.Collections.Concurrent;
using System.Text;

namespace Granary.Engine;

/// <summary>
/// What /metrics reports, in Prometheus text: requests by endpoint and status, running and waiting
/// sequences, prompt and generated tokens, TTFT, inter-token and end-to-end latency, KV cache use.
/// </summary>
public sealed class ServingMetrics
{
    private static readonly double[] TtftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
    private static readonly double[] ItlBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5];
    private static readonly double[] E2eBuckets = [0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240];

    private readonly ConcurrentDictionary<(string Endpoint, int Status), StrongBox> _requests = new();
    internal long PromptTokens, GenerationTokens, CachedPromptTokens, Aborted, Running, Waiting, KvUsedBlocks, KvTotalBlocks, Preemptions, EngineErrors;

    public LatencyHistogram TimeToFirstToken { get; } = new("granary_time_to_first_token_seconds", "Time from arrival to the first generated token.", TtftBuckets);
    public LatencyHistogram InterTokenLatency { get; } = new("granary_inter_token_latency_seconds", "Time between two tokens of one sequence.", ItlBuckets);
    public LatencyHistogram EndToEndLatency { get; } = new("granary_e2e_request_latency_seconds", "Time from arrival to the last token of a sequence.", E2eBuckets);

    public long RunningSequences => Volatile.Read(ref Running);
    public long WaitingSequences => Volatile.Read(ref Waiting);
    public long KvCacheUsedBlocks => Volatile.Read(ref KvUsedBlocks);
    public long KvCacheTotalBlocks => Volatile.Read(ref KvTotalBlocks);
    public long AbortedSequences => Volatile.Read(ref Aborted);
    public long PromptTokensTotal => Volatile.Read(ref PromptTokens);
    public long GenerationTokensTotal => Volatile.Read(ref GenerationTokens);
    public long CachedPromptTokensTotal => Volatile.Read(ref CachedPromptTokens);

    /// <summary>Sets the running and waiting gauges (for a producer other than the engine loop: a cluster gateway's in-flight requests).</summary>
    public void SetLoad(long running, long waiting)
    {
        Volatile.Write(ref Running, running);
        Volatile.Write(ref Waiting, waiting);
    }

    /// <summary>Adds to the prompt and generated token counters (for a producer other than the engine loop).</summary>
    public void AddTokens(long prompt, long generated)
    {
        Interlocked.Add(ref PromptTokens, prompt);
        Interlocked.Add(ref GenerationTokens, generated);
    }

    /// <summary>Counts one finished HTTP request.</summary>
    public void CountRequest(string endpoint, int status) => Interlocked.Increment(ref _requests.GetOrAdd((endpoint, status), _ => new StrongBox()).Value);

    public long RequestCount(string endpoint, int status) => _requests.TryGetValue((endpoint, status), out var box) ? Volatile.Read(ref box.Value) : 0;

    public string Render()
    {
        var text = new StringBuilder(4096);
        text.Append("# HELP granary_requests_total HTTP requests by endpoint and status code.\n# TYPE granary_requests_total counter\n");
        foreach (var ((endpoint, status), box) in _requests.OrderBy(p => p.Key))
            text.Append("granary_requests_total{endpoint=\"").Append(endpoint).Append("\",status=\"").Append(status).Append("\"} ").Append(Volatile.Read(ref box.Value)).Append('\n');
        Gauge(text, "granary_num_requests_running", "Sequences in the running batch.", RunningSequences);
        Gauge(text, "granary_num_requests_waiting", "Sequences waiting to start.", WaitingSequences);
        Counter(text, "granary_prompt_tokens_total", "Prompt tokens of admitted sequences.", PromptTokensTotal);
        Counter(text, "granary_generation_tokens_total", "Generated tokens.", GenerationTokensTotal);
        Counter(text, "granary_prefix_cache_hit_tokens_total", "Prompt tokens served from the prefix cache.", CachedPromptTokensTotal);
        Counter(text, "granary_aborted_sequences_total", "Sequences cancelled before they finished.", AbortedSequences);
        Counter(text, "granary_preemptions_total", "Sequences preempted for lack of KV blocks.", Volatile.Read(ref Preemptions));
        Counter(text, "granary_engine_errors_total", "Engine steps that failed.", Volatile.Read(ref EngineErrors));
        Gauge(text, "granary_kv_cache_used_blocks", "KV blocks held by sequences.", KvCacheUsedBlocks);
        Gauge(text, "granary_kv_cache_total_blocks", "KV blocks in the cache.", KvCacheTotalBlocks);
        long total = KvCacheTotalBlocks;
        text.Append("# HELP granary_kv_cache_usage_perc KV cache usage (1 = full).\n# TYPE granary_kv_cache_usage_perc gauge\ngranary_kv_cache_usage_perc ")
            .Append((total == 0 ? 0 : (double)KvCacheUsedBlocks / total).ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        TimeToFirstToken.WriteTo(text);
        InterTokenLatency.WriteTo(text);
        EndToEndLatency.WriteTo(text);
        return text.ToString();
    }

    private static void Gauge(StringBuilder text, string name, string help, long value) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" gauge\n").Append(name).Append(' ').Append(value).Append('\n');

    private static void Counter(StringBuilder text, string name, string help, long value) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" counter\n").Append(name).Append(' ').Append(value).Append('\n');

    private sealed class StrongBox
    {
        public long Value;
    }
}

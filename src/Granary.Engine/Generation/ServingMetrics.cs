namespace Granary.Engine;

/// <summary>
/// What one engine loop (or a cluster gateway) counts: running and waiting sequences, prompt and generated tokens,
/// prefix-cache hits, KV cache use, preemptions, and the TTFT, time-per-output-token and end-to-end latencies.
/// The numbers are plain fields the producer bumps; <see cref="ServingInstruments"/> publishes them on the Granary
/// meter with a <c>model_name</c> label (<see cref="ModelName"/>), which the server exports at /metrics.
/// Dispose to stop publishing (the properties stay readable).
/// </summary>
public sealed class ServingMetrics : IDisposable
{
    internal long PromptTokens, GenerationTokens, CachedPromptTokens, Aborted, Running, Waiting, KvUsedBlocks, KvTotalBlocks, Preemptions, EngineErrors;

    public ServingMetrics()
    {
        TimeToFirstToken = new LatencyHistogram(ServingInstruments.TimeToFirstToken, this);
        TimePerOutputToken = new LatencyHistogram(ServingInstruments.TimePerOutputToken, this);
        EndToEndLatency = new LatencyHistogram(ServingInstruments.EndToEndLatency, this);
        ServingInstruments.Add(this);
    }

    /// <summary>The <c>model_name</c> label: the served model's name (the server sets it once it knows the model). Default "".</summary>
    public string ModelName { get; set; } = "";

    public LatencyHistogram TimeToFirstToken { get; }
    /// <summary>Time between two tokens of one sequence (vLLM's time per output token).</summary>
    public LatencyHistogram TimePerOutputToken { get; }
    public LatencyHistogram EndToEndLatency { get; }

    public long RunningSequences => Volatile.Read(ref Running);
    public long WaitingSequences => Volatile.Read(ref Waiting);
    public long KvCacheUsedBlocks => Volatile.Read(ref KvUsedBlocks);
    public long KvCacheTotalBlocks => Volatile.Read(ref KvTotalBlocks);
    public long AbortedSequences => Volatile.Read(ref Aborted);
    public long PromptTokensTotal => Volatile.Read(ref PromptTokens);
    public long GenerationTokensTotal => Volatile.Read(ref GenerationTokens);
    public long CachedPromptTokensTotal => Volatile.Read(ref CachedPromptTokens);
    public long PreemptionsTotal => Volatile.Read(ref Preemptions);
    public long EngineErrorsTotal => Volatile.Read(ref EngineErrors);

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

    /// <summary>Counts one finished HTTP request (granary_requests_total{endpoint, status}).</summary>
    public void CountRequest(string endpoint, int status) => ServingInstruments.Requests.Add(1,
        new KeyValuePair<string, object?>(GranaryTelemetry.ModelNameTag, ModelName), new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("status", status));

    public void Dispose() => ServingInstruments.Remove(this);
}

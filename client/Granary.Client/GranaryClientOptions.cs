namespace Granary.Client;

/// <summary>
/// Settings of a <see cref="GranaryClient"/>; bound from configuration by
/// <see cref="GranaryServiceCollectionExtensions.AddGranaryClient(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration, Action{GranaryClientOptions})"/>
/// (e.g. a <c>"Granary"</c> section with <c>"Endpoints": ["http://10.0.0.5:8000"]</c>).
/// </summary>
public sealed class GranaryClientOptions
{
    /// <summary>
    /// The gateways, in order of preference: requests go to the first that answers, and when one cannot be
    /// reached (or answers 502/503/504) the next is tried. A URL may end with or without <c>/v1</c>.
    /// Default: empty, which the client refuses (name at least one).
    /// </summary>
    public IList<Uri> Endpoints { get; set; } = new List<Uri>();

    /// <summary>Sent as <c>Authorization: Bearer KEY</c> (the server's <c>--api-key</c>). Default null: no header.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Model for requests that name none. Default null: the gateway's served model.</summary>
    public string? Model { get; set; }

    /// <summary>
    /// Attempts after the first for a request that got 429, 502, 503 or 504 or could not connect; a failover to
    /// the next endpoint is one of them. Default 3. 0 turns retries and failover off.
    /// </summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>First back-off delay; it doubles with each retry, with jitter. Default 500 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest wait between two attempts, also for a server's <c>Retry-After</c>. Default 30 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for a TCP connection before trying the next endpoint. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Longest time for one attempt of a request that is not streamed, answer included; for a stream, until the
    /// response headers (the tokens may then take as long as they take). Default 10 minutes.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

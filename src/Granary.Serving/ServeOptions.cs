using Granary.Engine;

namespace Granary.Serving;

/// <summary>Settings of the OpenAI-compatible server.</summary>
public sealed class ServeOptions
{
    /// <summary>Address to listen on: an IP address, "localhost" or "0.0.0.0". Default 127.0.0.1.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (tests). Default 8000.</summary>
    public int Port { get; set; } = 8000;

    /// <summary>Name the API reports and accepts in "model"; null uses the model folder's name.</summary>
    public string? ServedModelName { get; set; }

    /// <summary>When set, requests to /v1/* must send "Authorization: Bearer KEY". Default null (open).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Largest request body; bigger ones get 413. Default 4 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 << 20;

    /// <summary>Most choices (prompts times n) in one request. Default 64.</summary>
    public int MaxChoices { get; set; } = 64;

    /// <summary>Seconds a client told 429 should wait (Retry-After). Default 1.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Settings of the engine loop (the waiting-queue bound).</summary>
    public AsyncEngineOptions Engine { get; set; } = new();
}

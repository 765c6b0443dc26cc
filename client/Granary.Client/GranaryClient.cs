using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Granary.Client.Internal;
using Granary.Client.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;

namespace Granary.Client;

/// <summary>
/// A client of Granary's OpenAI-compatible gateway: typed completions and chat answers, streamed as
/// <see cref="IAsyncEnumerable{T}"/>; retries with back-off on 429/502/503/504 and on connection failures;
/// failover across a list of gateways; API-key authentication. Thread-safe: make one and share it.
/// </summary>
/// <remarks>
/// Cancelling a call's token (or leaving a stream's <c>await foreach</c> early) closes its HTTP connection,
/// which makes the server abort the request and free its KV cache. Retries happen only before an answer
/// starts: a stream that fails half-way throws rather than starting over.
/// </remarks>
public sealed partial class GranaryClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private static readonly MediaTypeWithQualityHeaderValue EventStream = new("text/event-stream");

    private readonly HttpClient _http;
    private readonly EndpointList _endpoints;
    private readonly GranaryClientOptions _options;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    /// <summary>A client of the gateways in <paramref name="options"/>, with its own connection pool.</summary>
    public GranaryClient(GranaryClientOptions options, ILogger? logger = null)
        : this(options, CreateHandler(options), ownsHandler: true, logger)
    {
    }

    /// <summary>A client of one gateway, e.g. <c>new GranaryClient(new Uri("http://127.0.0.1:8000"))</c>.</summary>
    public GranaryClient(Uri endpoint, string? apiKey = null)
        : this(new GranaryClientOptions { Endpoints = [endpoint], ApiKey = apiKey })
    {
    }

    /// <summary>
    /// A client that sends through <paramref name="handler"/> (a proxy, custom certificates...), which it does not
    /// dispose. For a stream left early to close its connection at once, the handler must not drain unread
    /// responses (<see cref="SocketsHttpHandler.MaxResponseDrainSize"/> = 0, as the client's own handler has).
    /// </summary>
    public GranaryClient(GranaryClientOptions options, HttpMessageHandler handler, ILogger? logger = null)
        : this(options, handler ?? throw new ArgumentNullException(nameof(handler)), ownsHandler: false, logger)
    {
    }

    private GranaryClient(GranaryClientOptions options, HttpMessageHandler handler, bool ownsHandler, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        // A copy: changing the caller's options later does not change a client that runs.
        _options = new GranaryClientOptions
        {
            Endpoints = [.. options.Endpoints ?? []],
            ApiKey = options.ApiKey,
            Model = options.Model,
            MaxRetries = options.MaxRetries,
            RetryDelay = options.RetryDelay,
            MaxRetryDelay = options.MaxRetryDelay,
            ConnectTimeout = options.ConnectTimeout,
            RequestTimeout = options.RequestTimeout,
        };
        _endpoints = new EndpointList(options.Endpoints);
        _logger = logger ?? NullLogger.Instance;
        // No client-wide timeout: streams last as long as the answer; RequestTimeout bounds each call instead.
        _http = new HttpClient(handler, ownsHandler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("granary-dotnet", typeof(GranaryClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
        if (!string.IsNullOrEmpty(options.ApiKey)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        _pipeline = BuildPipeline();
    }

    /// <summary>The gateways, normalized (each ends in '/', without <c>/v1</c>), in order of preference.</summary>
    public IReadOnlyList<Uri> Endpoints => _endpoints.All;

    /// <summary>The gateway the next request goes to first (it changes on failover).</summary>
    public Uri CurrentEndpoint => _endpoints[_endpoints.Current];

    /// <summary>The model sent with requests that name none (<see cref="GranaryClientOptions.Model"/>); null: the gateway's.</summary>
    public string? DefaultModel => _options.Model;

    /// <summary><c>GET /v1/models</c>: the models the gateway serves.</summary>
    public Task<ModelList> ListModelsAsync(CancellationToken cancellationToken = default) =>
        GetJsonAsync(HttpMethod.Get, "v1/models", null, GranaryJsonContext.Default.ModelList, cancellationToken);

    /// <summary><c>POST /v1/completions</c>: continues the prompt and returns when every choice is done.</summary>
    /// <exception cref="GranaryApiException">The gateway refused the request (bad field, unknown model, context too long...).</exception>
    /// <exception cref="HttpRequestException">No gateway could be reached, after the retries.</exception>
    /// <exception cref="TimeoutException">No answer within <see cref="GranaryClientOptions.RequestTimeout"/>.</exception>
    public Task<CompletionResponse> CompleteAsync(CompletionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = Serialize(request.Prepare<CompletionRequest>(_options.Model, stream: false, includeUsage: false), GranaryJsonContext.Default.CompletionRequest);
        return GetJsonAsync(HttpMethod.Post, "v1/completions", body, GranaryJsonContext.Default.CompletionResponse, cancellationToken);
    }

    /// <summary>
    /// <c>POST /v1/completions</c> with <c>stream: true</c>: each chunk carries the new text of one choice; the last
    /// one carries the usage when <paramref name="includeUsage"/> is set.
    /// </summary>
    /// <exception cref="GranaryApiException">The gateway refused the request, or failed it during the stream.</exception>
    public async IAsyncEnumerable<CompletionResponse> CompleteStreamingAsync(CompletionRequest request, bool includeUsage = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = Serialize(request.Prepare<CompletionRequest>(_options.Model, stream: true, includeUsage), GranaryJsonContext.Default.CompletionRequest);
        await foreach (string data in StreamAsync("v1/completions", body, cancellationToken).ConfigureAwait(false))
            yield return Deserialize(data, GranaryJsonContext.Default.CompletionResponse);
    }

    /// <summary><c>POST /v1/chat/completions</c>: answers the conversation and returns when the answer is done.</summary>
    /// <exception cref="GranaryApiException">The gateway refused the request (bad field, unknown model, context too long...).</exception>
    /// <exception cref="HttpRequestException">No gateway could be reached, after the retries.</exception>
    /// <exception cref="TimeoutException">No answer within <see cref="GranaryClientOptions.RequestTimeout"/>.</exception>
    public Task<ChatCompletionResponse> CompleteChatAsync(ChatCompletionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = Serialize(request.Prepare<ChatCompletionRequest>(_options.Model, stream: false, includeUsage: false), GranaryJsonContext.Default.ChatCompletionRequest);
        return GetJsonAsync(HttpMethod.Post, "v1/chat/completions", body, GranaryJsonContext.Default.ChatCompletionResponse, cancellationToken);
    }

    /// <summary>
    /// <c>POST /v1/chat/completions</c> with <c>stream: true</c>: the first chunk opens the assistant's message, the
    /// next ones carry its text; the last one carries the usage when <paramref name="includeUsage"/> is set.
    /// </summary>
    /// <exception cref="GranaryApiException">The gateway refused the request, or failed it during the stream.</exception>
    public async IAsyncEnumerable<ChatCompletionChunk> CompleteChatStreamingAsync(ChatCompletionRequest request, bool includeUsage = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = Serialize(request.Prepare<ChatCompletionRequest>(_options.Model, stream: true, includeUsage), GranaryJsonContext.Default.ChatCompletionRequest);
        await foreach (string data in StreamAsync("v1/chat/completions", body, cancellationToken).ConfigureAwait(false))
            yield return Deserialize(data, GranaryJsonContext.Default.ChatCompletionChunk);
    }

    /// <summary>This client as a Microsoft.Extensions.AI <see cref="IChatClient"/> (which does not dispose it).</summary>
    /// <param name="model">Model to answer with when <see cref="ChatOptions.ModelId"/> names none; null: <see cref="GranaryClientOptions.Model"/>.</param>
    public IChatClient AsChatClient(string? model = null) => new GranaryChatClient(this, model);

    /// <summary>Closes the connections (of the client's own handler).</summary>
    public void Dispose() => _http.Dispose();

    private static SocketsHttpHandler CreateHandler(GranaryClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        return new SocketsHttpHandler
        {
            // A response left unread (a stream the caller stopped) closes its connection instead of being drained
            // (up to 1 MiB by default), so the server sees the client go and aborts the request at once.
            MaxResponseDrainSize = 0,
            ConnectTimeout = options.ConnectTimeout,
            // Long-lived clients pick up DNS changes of the gateways.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
    }

    private static void Validate(GranaryClientOptions options)
    {
        _ = new EndpointList(options.Endpoints); // the endpoint checks, before anything is created
        if (options.MaxRetries < 0) throw new ArgumentException($"GranaryClientOptions.MaxRetries must be 0 or more, got {options.MaxRetries}");
        if (options.RetryDelay < TimeSpan.Zero) throw new ArgumentException($"GranaryClientOptions.RetryDelay must not be negative, got {options.RetryDelay}");
        if (options.MaxRetryDelay < options.RetryDelay) throw new ArgumentException($"GranaryClientOptions.MaxRetryDelay ({options.MaxRetryDelay}) is shorter than RetryDelay ({options.RetryDelay})");
        if (options.ConnectTimeout <= TimeSpan.Zero) throw new ArgumentException($"GranaryClientOptions.ConnectTimeout must be positive, got {options.ConnectTimeout}");
        if (options.RequestTimeout <= TimeSpan.Zero && options.RequestTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentException($"GranaryClientOptions.RequestTimeout must be positive (or infinite), got {options.RequestTimeout}");
    }

    private static byte[] Serialize<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.SerializeToUtf8Bytes(value, type);

    private static T Deserialize<T>(string data, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(data, type) ?? throw new InvalidDataException($"the gateway sent a null {typeof(T).Name}");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the gateway sent an event that is not a {typeof(T).Name}: {Truncate(data)} ({e.Message})", e);
        }
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";
}

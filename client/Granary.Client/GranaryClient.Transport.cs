using System.Net;
using System.Net.ServerSentEvents;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Granary.Client.Internal;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Granary.Client;

/// <summary>Sending: retries and failover (a Polly pipeline), timeouts, error bodies, server-sent events.</summary>
public sealed partial class GranaryClient
{
    private static readonly ResiliencePropertyKey<Call> CallKey = new("granary.call");

    /// <summary>What a retry of one request should do.</summary>
    private enum Retry
    {
        /// <summary>Not transient: give the outcome to the caller.</summary>
        No,
        /// <summary>The gateway is up but busy (429): wait, then ask it again.</summary>
        SameEndpoint,
        /// <summary>The gateway is down or unavailable: go on to the next one.</summary>
        NextEndpoint,
    }

    /// <summary>One request across its attempts.</summary>
    private sealed class Call(GranaryClient client, HttpMethod method, string path, byte[]? body, bool stream)
    {
        public GranaryClient Client => client;
        public HttpMethod Method => method;
        public string Path => path;
        public byte[]? Body => body;
        public bool Stream => stream;
        /// <summary>The endpoint of the latest attempt.</summary>
        public int Endpoint;
        /// <summary>Endpoints found down since the last back-off: once all were, back off before the next round.</summary>
        public int DownInRound;
    }

    private ResiliencePipeline<HttpResponseMessage> BuildPipeline()
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (_options.MaxRetries == 0) return builder.Build();
        return builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
        {
            MaxRetryAttempts = _options.MaxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = _options.RetryDelay,
            MaxDelay = _options.MaxRetryDelay,
            ShouldHandle = args => ValueTask.FromResult(Classify(args.Outcome, args.Context) != Retry.No),
            DelayGenerator = args => ValueTask.FromResult(RetryDelay(args.Outcome, args.Context)),
            OnRetry = args =>
            {
                OnRetry(args.Outcome, args.Context, args.RetryDelay, args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    private static Retry Classify(Outcome<HttpResponseMessage> outcome, ResilienceContext context)
    {
        if (outcome.Exception is { } e)
        {
            return e switch
            {
                HttpRequestException => Retry.NextEndpoint,
                // Not the caller's token nor the timeout: the handler's connect timeout.
                OperationCanceledException when !context.CancellationToken.IsCancellationRequested => Retry.NextEndpoint,
                _ => Retry.No,
            };
        }
        return (int)outcome.Result!.StatusCode switch
        {
            429 => Retry.SameEndpoint,
            502 or 503 or 504 => Retry.NextEndpoint,
            _ => Retry.No,
        };
    }

    /// <summary>Null keeps Polly's exponential back-off with jitter.</summary>
    private TimeSpan? RetryDelay(Outcome<HttpResponseMessage> outcome, ResilienceContext context)
    {
        var call = context.Properties.GetValue(CallKey, null!);
        var retry = Classify(outcome, context);
        if (retry == Retry.NextEndpoint && ++call.DownInRound < _endpoints.Count) return TimeSpan.Zero; // another gateway is untried: go now
        if (retry == Retry.NextEndpoint) call.DownInRound = 0;
        if (outcome.Result is { } response && RetryAfter(response) is { } wait) return wait < _options.MaxRetryDelay ? wait : _options.MaxRetryDelay;
        return null;
    }

    private void OnRetry(Outcome<HttpResponseMessage> outcome, ResilienceContext context, TimeSpan delay, int attempt)
    {
        var call = context.Properties.GetValue(CallKey, null!);
        var endpoint = _endpoints[call.Endpoint];
        if (Classify(outcome, context) == Retry.NextEndpoint)
        {
            _endpoints.MarkFailed(call.Endpoint);
            var next = _endpoints[_endpoints.Current];
            if (outcome.Exception is { } e) LogUnreachable(endpoint, e.Message, next, (long)delay.TotalMilliseconds, attempt, _options.MaxRetries);
            else LogUnavailable(endpoint, (int)outcome.Result!.StatusCode, next, (long)delay.TotalMilliseconds, attempt, _options.MaxRetries);
        }
        else LogBusy(endpoint, (int)outcome.Result!.StatusCode, (long)delay.TotalMilliseconds, attempt, _options.MaxRetries);
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date) return date - DateTimeOffset.UtcNow is { Ticks: > 0 } wait ? wait : TimeSpan.Zero;
        return null;
    }

    /// <summary>Sends one request through the retry pipeline; returns the response once its headers are in.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, byte[]? body, bool stream, CancellationToken token, CancellationToken callerToken)
    {
        var call = new Call(this, method, path, body, stream);
        var context = ResilienceContextPool.Shared.Get(token);
        context.Properties.Set(CallKey, call);
        Outcome<HttpResponseMessage> outcome;
        try
        {
            outcome = await _pipeline.ExecuteOutcomeAsync(static async (ctx, call) =>
            {
                try
                {
                    return Outcome.FromResult(await call.Client.AttemptAsync(call, ctx.CancellationToken).ConfigureAwait(false));
                }
                catch (Exception e)
                {
                    return Outcome.FromException<HttpResponseMessage>(e);
                }
            }, context, call).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
        if (outcome.Exception is not { } error) return outcome.Result!;
        callerToken.ThrowIfCancellationRequested();
        if (error is OperationCanceledException && token.IsCancellationRequested) throw TimedOut(path, error);
        if (error is HttpRequestException or OperationCanceledException)
        {
            string tried = string.Join(", ", _endpoints.All);
            var kind = error is HttpRequestException { HttpRequestError: var e } ? e : HttpRequestError.ConnectionError;
            throw new HttpRequestException(kind, $"no Granary gateway answered ({tried}): {error.Message}", error);
        }
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        throw error; // not reached
    }

    private Task<HttpResponseMessage> AttemptAsync(Call call, CancellationToken cancellationToken)
    {
        call.Endpoint = _endpoints.Current;
        var request = new HttpRequestMessage(call.Method, new Uri(_endpoints[call.Endpoint], call.Path));
        if (call.Body is { } body) request.Content = new ByteArrayContent(body) { Headers = { ContentType = Json } };
        if (call.Stream) request.Headers.Accept.Add(EventStream);
        return _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    private TimeoutException TimedOut(string path, Exception inner) =>
        new($"the gateway did not answer /{path} within {_options.RequestTimeout} (GranaryClientOptions.RequestTimeout)", inner);

    private CancellationTokenSource Deadline(CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_options.RequestTimeout != System.Threading.Timeout.InfiniteTimeSpan) deadline.CancelAfter(_options.RequestTimeout);
        return deadline;
    }

    /// <summary>A request whose whole answer is one JSON body, within the request timeout.</summary>
    private async Task<T> GetJsonAsync<T>(HttpMethod method, string path, byte[]? body, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var deadline = Deadline(cancellationToken);
        try
        {
            using var response = await SendAsync(method, path, body, stream: false, deadline.Token, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(response, deadline.Token).ConfigureAwait(false);
            // Reading under the token: cancelling it aborts the read and closes the connection (the server aborts).
            var stream = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            try
            {
                return await JsonSerializer.DeserializeAsync(stream, type, deadline.Token).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"the gateway answered /{path} with null");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"the gateway's answer to /{path} is not a {typeof(T).Name}: {e.Message}", e);
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested && deadline.IsCancellationRequested)
        {
            throw TimedOut(path, e);
        }
    }

    /// <summary>
    /// A streamed request: the data of each server-sent event up to <c>[DONE]</c>. An error event throws
    /// <see cref="GranaryApiException"/>; a stream that ends without <c>[DONE]</c> throws <see cref="IOException"/>.
    /// </summary>
    private async IAsyncEnumerable<string> StreamAsync(string path, byte[] body, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        using (var deadline = Deadline(cancellationToken))
        {
            try
            {
                response = await SendAsync(HttpMethod.Post, path, body, stream: true, deadline.Token, cancellationToken).ConfigureAwait(false);
                await EnsureSuccessAsync(response, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested && deadline.IsCancellationRequested)
            {
                throw TimedOut(path, e);
            }
        }
        // Disposed unread (the caller cancelled or stopped early), the response closes the connection: the
        // client's handler does not drain, so the server sees the client go and aborts the request.
        using (response)
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            // The token goes to every read: cancelling it cancels the pending socket read, which closes the connection.
            await foreach (var item in SseParser.Create(stream).EnumerateAsync(cancellationToken).ConfigureAwait(false))
            {
                string data = item.Data;
                if (data == "[DONE]") yield break;
                ThrowIfError(data);
                yield return data;
            }
            throw new IOException($"the gateway closed the stream of /{path} before [DONE]");
        }
    }

    /// <summary>Throws <see cref="GranaryApiException"/> for an error event (<c>{"error":{...}}</c>) inside a stream.</summary>
    private static void ThrowIfError(string data)
    {
        if (!data.Contains("\"error\"", StringComparison.Ordinal)) return;
        ErrorResponse? error;
        try
        {
            error = JsonSerializer.Deserialize(data, GranaryJsonContext.Default.ErrorResponse);
        }
        catch (JsonException)
        {
            return; // not an error body; the caller's parse reports what it is
        }
        if (error?.Error is { } e) throw new GranaryApiException(null, e.Message ?? "the request failed during the stream", e.Type, e.Code, e.Param);
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        string text;
        try
        {
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            text = "";
        }
        response.Dispose();
        ErrorBody? body = null;
        try
        {
            if (text.Length > 0 && text.TrimStart().StartsWith('{')) body = JsonSerializer.Deserialize(text, GranaryJsonContext.Default.ErrorResponse)?.Error;
        }
        catch (JsonException)
        {
        }
        var status = response.StatusCode;
        string message = body?.Message ?? $"HTTP {(int)status} {response.ReasonPhrase}{(text.Length > 0 ? ": " + Truncate(text.Trim()) : "")}";
        throw new GranaryApiException(status, message, body?.Type, body?.Code, body?.Param, RetryAfter(response));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Gateway {Endpoint} is busy ({Status}); asking again in {DelayMs} ms (retry {Attempt} of {MaxRetries})")]
    private partial void LogBusy(Uri endpoint, int status, long delayMs, int attempt, int maxRetries);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Gateway {Endpoint} is unavailable ({Status}); trying {Next} in {DelayMs} ms (retry {Attempt} of {MaxRetries})")]
    private partial void LogUnavailable(Uri endpoint, int status, Uri next, long delayMs, int attempt, int maxRetries);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Gateway {Endpoint} could not be reached ({Error}); trying {Next} in {DelayMs} ms (retry {Attempt} of {MaxRetries})")]
    private partial void LogUnreachable(Uri endpoint, string error, Uri next, long delayMs, int attempt, int maxRetries);
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Granary.Cluster.Transport;

/// <summary>
/// Calls grains on other silos (their <see cref="SiloEndpoint"/>) over HTTP/2 cleartext (prior knowledge), with one
/// <see cref="SocketsHttpHandler"/> (one pool of connections, several per silo when calls crowd) shared by every call. Failures are <see cref="GrainCallException"/>s; the caller's own cancellation
/// stays an <see cref="OperationCanceledException"/>. Thread-safe.
/// </summary>
public sealed class SiloClient : IDisposable
{
    /// <summary>URIs kept for reuse (the hot path calls the same few grains every step); the cache is emptied when it grows past this.</summary>
    private const int MaxCachedUris = 4096;

    private static readonly UriCreationOptions RawPath = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private readonly HttpMessageInvoker _http;
    private readonly string _clusterId;
    private readonly string _token;
    private readonly int _maxMessageBytes;
    private readonly ConcurrentDictionary<(string Silo, string Type, string Key, string Method), Uri> _uris = new();
    private readonly ConcurrentDictionary<string, Uri> _pingUris = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<CancellationTokenSource> _timers = new();
    private int _cachedUris;

    /// <param name="options">ClusterId and Secret (sent with every call), ConnectTimeout and MaxMessageBytes.</param>
    public SiloClient(ClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _clusterId = options.ClusterId;
        _token = TransportProtocol.Token(options);
        _maxMessageBytes = options.MaxMessageBytes;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            EnableMultipleHttp2Connections = true,
            // Silos stay where they are; recycle now and then anyway so that a moved address is picked up.
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            // A peer that vanished without closing (power, network) is noticed within these on a waiting call or stream.
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            InitialHttp2StreamWindowSize = 4 << 20,
            MaxResponseDrainSize = 0,
            UseProxy = false, // an HTTP_PROXY meant for the internet must not carry silo traffic
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ActivityHeadersPropagator = null, // no trace headers on the per-step path
        };
        // HttpClient's own layer (a linked token source a call for its Timeout, buffering) is not wanted here: every
        // call has its own timeout and reads its answer itself. The invoker is HttpClient's base, over the same handler.
        _http = new HttpMessageInvoker(handler, disposeHandler: true);
    }

    /// <summary>
    /// Calls <paramref name="method"/> of grain <paramref name="grainType"/>/<paramref name="grainKey"/> on the silo at
    /// <paramref name="siloUrl"/> and returns its answer. <paramref name="timeout"/> bounds the whole call
    /// (<see cref="Timeout.InfiniteTimeSpan"/>: none).
    /// </summary>
    /// <exception cref="GrainCallException">The call failed; <see cref="GrainCallException.Kind"/> says how.</exception>
    public Task<byte[]> CallAsync(string siloUrl, string grainType, string grainKey, string method, ReadOnlyMemory<byte> body,
        TimeSpan timeout, CancellationToken cancellationToken) =>
        ExchangeAsync(GrainRequest(siloUrl, grainType, grainKey, method, body), siloUrl, grainType, grainKey, method, timeout, cancellationToken);

    /// <summary>
    /// Calls a streaming method and yields each frame as it arrives. Ending the enumeration early (or cancelling)
    /// resets the HTTP/2 stream, and the handler on the other silo sees its token cancelled. No timeout but the
    /// connect timeout: cancel to give up.
    /// </summary>
    /// <exception cref="GrainCallException">The call failed, or the stream broke (<see cref="GrainCallFailure.Broken"/>) before its end.</exception>
    public async IAsyncEnumerable<byte[]> StreamAsync(string siloUrl, string grainType, string grainKey, string method, ReadOnlyMemory<byte> body,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = GrainRequest(siloUrl, grainType, grainKey, method, body);
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Unanswered(e, null, cancellationToken))
        {
            throw Unreachable(e, siloUrl, grainType, grainKey, method);
        }
        using var disposeResponse = response;
        await EnsureOkAsync(response, siloUrl, grainType, grainKey, method, cancellationToken).ConfigureAwait(false);
        Stream content = response.Content.ReadAsStream(cancellationToken);
        await using (content.ConfigureAwait(false))
        {
            byte[] head = new byte[3 * TransportProtocol.FrameHeaderBytes];
            while (true)
            {
                byte[]? frame = await ReadFrameAsync(content, head, siloUrl, grainType, grainKey, method, cancellationToken).ConfigureAwait(false);
                if (frame is null) yield break;
                yield return frame;
            }
        }
    }

    /// <summary>Asks the silo at <paramref name="siloUrl"/> for its key (which changes when it restarts).</summary>
    /// <exception cref="GrainCallException">No valid answer within <paramref name="timeout"/>.</exception>
    public async Task<string> PingAsync(string siloUrl, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(siloUrl);
        if (!_pingUris.TryGetValue(siloUrl, out var uri))
        {
            uri = new Uri(siloUrl.TrimEnd('/') + TransportProtocol.PingPath);
            if (_pingUris.Count < MaxCachedUris) _pingUris.TryAdd(siloUrl, uri);
        }
        byte[] key = await ExchangeAsync(NewRequest(HttpMethod.Get, uri), siloUrl, "", "", "ping", timeout, cancellationToken).ConfigureAwait(false);
        return Encoding.UTF8.GetString(key);
    }

    public void Dispose()
    {
        _http.Dispose();
        while (_timers.TryDequeue(out var timer)) timer.Dispose();
    }

    /// <summary>Sends <paramref name="request"/> (and disposes it) and reads its whole answer within <paramref name="timeout"/>.</summary>
    private async Task<byte[]> ExchangeAsync(HttpRequestMessage request, string siloUrl, string grainType, string grainKey, string method,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var disposeRequest = request;
        var timer = StartTimer(timeout, cancellationToken, out var link);
        try
        {
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, timer.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (Unanswered(e, timer, cancellationToken))
            {
                throw Unreachable(e, siloUrl, grainType, grainKey, method);
            }
            using var disposeResponse = response;
            await EnsureOkAsync(response, siloUrl, grainType, grainKey, method, timer.Token).ConfigureAwait(false);
            try
            {
                return await ReadAnswerAsync(response, siloUrl, grainType, grainKey, method, timer.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !timer.IsCancellationRequested))
            {
                throw Broken(siloUrl, grainType, grainKey, method, $"the answer was cut: {e.Message}", e);
            }
        }
        catch (OperationCanceledException e) when (timer.IsCancellationRequested)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new GrainCallException(GrainCallFailure.Timeout, siloUrl, grainType, grainKey, method, $"no answer within {timeout.TotalMilliseconds:0} ms", innerException: e);
        }
        finally
        {
            ReturnTimer(timer, link);
        }
    }

    private HttpRequestMessage GrainRequest(string siloUrl, string grainType, string grainKey, string method, ReadOnlyMemory<byte> body)
    {
        ArgumentNullException.ThrowIfNull(siloUrl);
        ArgumentException.ThrowIfNullOrEmpty(grainType);
        ArgumentNullException.ThrowIfNull(grainKey);
        ArgumentException.ThrowIfNullOrEmpty(method);
        if (body.Length > _maxMessageBytes) throw new ArgumentException($"the body of {grainType}/{grainKey}.{method} ({body.Length} bytes) is larger than the largest message ({_maxMessageBytes} bytes)", nameof(body));
        var route = (siloUrl, grainType, grainKey, method);
        if (!_uris.TryGetValue(route, out var uri))
        {
            // The path is sent as escaped here: no canonicalization may turn a key such as ".." into a path step.
            uri = new Uri(string.Concat(siloUrl.AsSpan().TrimEnd('/'), TransportProtocol.GrainPath(grainType, grainKey, method)), RawPath);
            if (Interlocked.Increment(ref _cachedUris) > MaxCachedUris)
            {
                _uris.Clear();
                Interlocked.Exchange(ref _cachedUris, 0);
            }
            _uris.TryAdd(route, uri);
        }
        var request = NewRequest(HttpMethod.Post, uri);
        var content = new ReadOnlyMemoryContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", TransportProtocol.OctetStream);
        request.Content = content;
        return request;
    }

    private HttpRequestMessage NewRequest(HttpMethod httpMethod, Uri uri)
    {
        var request = new HttpRequestMessage(httpMethod, uri) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.TryAddWithoutValidation(TransportProtocol.ClusterHeader, _clusterId);
        request.Headers.TryAddWithoutValidation(TransportProtocol.AuthHeader, _token);
        return request;
    }

    /// <summary>A pooled source that cancels after <paramref name="timeout"/> or with the caller's token.</summary>
    private CancellationTokenSource StartTimer(TimeSpan timeout, CancellationToken cancellationToken, out CancellationTokenRegistration link)
    {
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "a call's timeout must be positive (or infinite)");
        if (!_timers.TryDequeue(out var timer)) timer = new CancellationTokenSource();
        timer.CancelAfter(timeout);
        link = cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), timer);
        return timer;
    }

    private void ReturnTimer(CancellationTokenSource timer, CancellationTokenRegistration link)
    {
        link.Dispose();
        if (timer.TryReset() && _timers.Count < 256) _timers.Enqueue(timer);
        else timer.Dispose();
    }

    /// <summary>
    /// True when <paramref name="e"/>, thrown while waiting for an answer's headers, means that the silo did not answer
    /// (rather than the caller cancelling or the call timing out).
    /// </summary>
    private static bool Unanswered(Exception e, CancellationTokenSource? timer, CancellationToken cancellationToken) =>
        e is HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested && timer?.IsCancellationRequested != true);

    private static GrainCallException Unreachable(Exception e, string siloUrl, string grainType, string grainKey, string method)
    {
        // An OperationCanceledException that neither the caller nor the call's timeout caused is the connect timeout.
        string detail = e is HttpRequestException ? $"no answer from the silo: {e.Message}" : $"no connection to the silo: {e.InnerException?.Message ?? e.Message}";
        return new GrainCallException(GrainCallFailure.Unreachable, siloUrl, grainType, grainKey, method, detail, innerException: e);
    }

    private static async Task EnsureOkAsync(HttpResponseMessage response, string siloUrl, string grainType, string grainKey, string method, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        if (status == 200) return;
        string text;
        try
        {
            text = await ReadTextAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            text = $"(the text of the answer was cut: {e.Message})";
        }
        var kind = status switch
        {
            401 or 403 => GrainCallFailure.Unauthorized,
            404 => GrainCallFailure.NotFound,
            _ => GrainCallFailure.Remote,
        };
        string detail = status == 500 ? text : $"HTTP {status}: {text}";
        throw new GrainCallException(kind, siloUrl, grainType, grainKey, method, detail, remoteMessage: text, statusCode: status);
    }

    private static async Task<string> ReadTextAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var content = response.Content.ReadAsStream(cancellationToken);
        await using (content.ConfigureAwait(false))
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(TransportProtocol.MaxErrorTextBytes);
            try
            {
                int length = await content.ReadAtLeastAsync(buffer.AsMemory(0, TransportProtocol.MaxErrorTextBytes), TransportProtocol.MaxErrorTextBytes, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                return Encoding.UTF8.GetString(buffer, 0, length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Reads an answer of the length its header announces into an array of exactly that size.</summary>
    private async Task<byte[]> ReadAnswerAsync(HttpResponseMessage response, string siloUrl, string grainType, string grainKey, string method, CancellationToken cancellationToken)
    {
        long? announced = response.Content.Headers.ContentLength;
        if (announced > _maxMessageBytes) throw Broken(siloUrl, grainType, grainKey, method, $"the answer of {announced} bytes is larger than the largest message ({_maxMessageBytes} bytes)", null);
        // The answer's content is the connection's stream, there already: no need for a task to get it.
        var content = response.Content.ReadAsStream(cancellationToken);
        await using (content.ConfigureAwait(false))
        {
            if (announced is long length)
            {
                if (length == 0) return [];
                byte[] answer = new byte[length];
                await content.ReadExactlyAsync(answer, cancellationToken).ConfigureAwait(false);
                return answer;
            }
            // No length announced (a proxy in between?): gather up to the limit.
            using var gathered = new MemoryStream();
            byte[] chunk = ArrayPool<byte>.Shared.Rent(64 << 10);
            try
            {
                int n;
                while ((n = await content.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (gathered.Length + n > _maxMessageBytes) throw Broken(siloUrl, grainType, grainKey, method, $"the answer is larger than the largest message ({_maxMessageBytes} bytes)", null);
                    gathered.Write(chunk, 0, n);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
            return gathered.ToArray();
        }
    }

    /// <summary>The next frame of a stream; null at its end frame. Throws the stream's error frame, or Broken when the bytes stop before the end.</summary>
    private async ValueTask<byte[]?> ReadFrameAsync(Stream content, byte[] head, string siloUrl, string grainType, string grainKey, string method, CancellationToken cancellationToken)
    {
        try
        {
            await content.ReadExactlyAsync(head.AsMemory(0, TransportProtocol.FrameHeaderBytes), cancellationToken).ConfigureAwait(false);
            uint length = TransportProtocol.ReadHeader(head);
            if (length == TransportProtocol.EndMarker) return null;
            if (length == TransportProtocol.ErrorMarker)
            {
                await content.ReadExactlyAsync(head.AsMemory(TransportProtocol.FrameHeaderBytes, 2 * TransportProtocol.FrameHeaderBytes), cancellationToken).ConfigureAwait(false);
                uint status = TransportProtocol.ReadHeader(head.AsSpan(4));
                uint textLength = TransportProtocol.ReadHeader(head.AsSpan(8));
                if (textLength > TransportProtocol.MaxErrorTextBytes) throw Broken(siloUrl, grainType, grainKey, method, $"an error frame of {textLength} bytes", null);
                byte[] text = new byte[textLength];
                await content.ReadExactlyAsync(text, cancellationToken).ConfigureAwait(false);
                string message = Encoding.UTF8.GetString(text);
                throw new GrainCallException(status == 404 ? GrainCallFailure.NotFound : GrainCallFailure.Remote, siloUrl, grainType, grainKey, method,
                    message, remoteMessage: message);
            }
            if (length >= TransportProtocol.FirstReserved || length > (uint)_maxMessageBytes)
                throw Broken(siloUrl, grainType, grainKey, method, $"a frame of {length} bytes (reserved, or larger than the largest message of {_maxMessageBytes} bytes)", null);
            if (length == 0) return [];
            byte[] frame = new byte[length];
            await content.ReadExactlyAsync(frame, cancellationToken).ConfigureAwait(false);
            return frame;
        }
        catch (EndOfStreamException e)
        {
            throw Broken(siloUrl, grainType, grainKey, method, "the stream ended without its end frame", e);
        }
        catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw Broken(siloUrl, grainType, grainKey, method, $"the stream was cut: {e.Message}", e);
        }
    }

    private static GrainCallException Broken(string siloUrl, string grainType, string grainKey, string method, string detail, Exception? inner) =>
        new(GrainCallFailure.Broken, siloUrl, grainType, grainKey, method, detail, innerException: inner);
}

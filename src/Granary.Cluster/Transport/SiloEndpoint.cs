using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Cluster.Transport;

/// <summary>
/// The silo's endpoint for calls from other silos: Kestrel speaking HTTP/2 cleartext only (prior knowledge), with the
/// routes and framing of <see cref="TransportProtocol"/>. Register the handlers with <see cref="Map"/> and
/// <see cref="MapStream"/>, then <see cref="StartAsync"/>. Every request must carry the cluster's id and token;
/// others never reach a handler. A handler's exception becomes the caller's error, never the silo's.
/// </summary>
public sealed partial class SiloEndpoint : IAsyncDisposable
{
    /// <summary>How long in-flight calls may finish when the endpoint stops; then their connections are cut.</summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(2);

    private readonly ClusterOptions _options;
    private readonly string _clusterId;
    private readonly string _token;
    private volatile byte[] _siloKeyUtf8 = [];
    private volatile string _wrongCluster = "";
    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    // Grain type -> method -> GrainHandler or GrainStreamHandler; written only before start, then read concurrently.
    private readonly Dictionary<string, Dictionary<string, Delegate>> _handlers = new(StringComparer.Ordinal);
    private int _state; // 0 built, 1 started, 2 disposed

    /// <summary>
    /// Builds the endpoint of silo <paramref name="siloKey"/> (empty when the silo has not joined yet: it learns its key,
    /// which holds the generation, from joining, and sets <see cref="SiloKey"/> then); it listens only after <see cref="StartAsync"/>.
    /// </summary>
    /// <param name="options">ClusterId, Secret, AdvertisedHost (the address listened on: an IP, localhost, or 0.0.0.0 / a host name for every interface), Port (0: a free one) and MaxMessageBytes.</param>
    public SiloEndpoint(ClusterOptions options, string siloKey, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(siloKey);
        _options = options;
        _clusterId = options.ClusterId;
        SiloKey = siloKey;
        _token = TransportProtocol.Token(options);
        loggers ??= NullLoggerFactory.Instance;
        _logger = loggers.CreateLogger<SiloEndpoint>();

        var builder = WebApplication.CreateSlimBuilder();
        // Kestrel and hosting speak only of problems: one line per call would drown the silo's log.
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxMessageBytes;
            // Other silos are few and keep their connections: let each carry many concurrent calls, with windows
            // wide enough for KV-cache sized bodies.
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Limits.Http2.InitialConnectionWindowSize = 16 << 20;
            kestrel.Limits.Http2.InitialStreamWindowSize = 8 << 20;
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(10);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
            Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> http2 = listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2;
            string host = options.AdvertisedHost;
            if (host == "localhost") kestrel.Listen(IPAddress.Loopback, options.Port, http2); // ListenLocalhost cannot take port 0
            else if (IPAddress.TryParse(host, out var ip)) kestrel.Listen(ip, options.Port, http2);
            else kestrel.ListenAnyIP(options.Port, http2); // "0.0.0.0", "*", "" or a host name that resolves to this machine
        });
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    /// <summary>This silo's key, answered to pings (a prober that knows another key counts the answer as a miss).</summary>
    public string SiloKey
    {
        get => Encoding.UTF8.GetString(_siloKeyUtf8);
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _siloKeyUtf8 = Encoding.UTF8.GetBytes(value);
            _wrongCluster = $"this silo ({value}) belongs to cluster '{_clusterId}'";
        }
    }

    /// <summary>The port listened on (the real one when 0 was asked); valid after <see cref="StartAsync"/>.</summary>
    public int Port { get; private set; }

    /// <summary>The endpoint's base URL for other silos (AdvertisedHost and <see cref="Port"/>); valid after <see cref="StartAsync"/>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Registers the handler of <paramref name="method"/> of grains of <paramref name="grainType"/>; before <see cref="StartAsync"/> only.</summary>
    public void Map(string grainType, string method, GrainHandler handler) => Register(grainType, method, handler);

    /// <summary>Registers a streaming method (frames sent as the handler yields them); before <see cref="StartAsync"/> only.</summary>
    public void MapStream(string grainType, string method, GrainStreamHandler handler) => Register(grainType, method, handler);

    private void Register(string grainType, string method, Delegate handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(grainType);
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(handler);
        if (_state != 0) throw new InvalidOperationException($"register {grainType}.{method} before the silo endpoint starts");
        if (!_handlers.TryGetValue(grainType, out var methods)) _handlers[grainType] = methods = new(StringComparer.Ordinal);
        if (!methods.TryAdd(method, handler)) throw new ArgumentException($"{grainType}.{method} is already registered");
    }

    /// <summary>Starts listening; <see cref="Port"/> and <see cref="Url"/> are then known.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("the silo endpoint was already started");
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
        string host = _options.AdvertisedHost is "0.0.0.0" or "*" or "" ? "127.0.0.1" : _options.AdvertisedHost;
        Url = IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"http://[{host}]:{Port}" : $"http://{host}:{Port}";
        LogListening(Url, SiloKey, _options.ClusterId);
    }

    /// <summary>
    /// Stops: streams are cancelled at once (their callers see a broken stream), calls get <see cref="ShutdownGrace"/>
    /// to finish, then every connection is cut.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        int was = Interlocked.Exchange(ref _state, 2);
        if (was == 2) return;
        _stopping.Cancel();
        if (was == 1)
        {
            using var grace = new CancellationTokenSource(ShutdownGrace);
            try
            {
                await _app.StopAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private Task HandleAsync(HttpContext ctx)
    {
        if (Refuse(ctx) is { } refused) return refused;
        string target = ctx.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
        if (target.StartsWith(TransportProtocol.GrainsPrefix, StringComparison.Ordinal)) return GrainAsync(ctx, target);
        if (target == TransportProtocol.PingPath)
        {
            if (!HttpMethods.IsGet(ctx.Request.Method)) return TextAsync(ctx, 405, "ping is a GET");
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            byte[] key = _siloKeyUtf8;
            ctx.Response.ContentLength = key.Length;
            return ctx.Response.Body.WriteAsync(key, ctx.RequestAborted).AsTask();
        }
        return TextAsync(ctx, 404, $"no route for {ctx.Request.Method} {target}");
    }

    /// <summary>The cluster check: null when the caller may go on, else the task writing the refusal.</summary>
    private Task? Refuse(HttpContext ctx)
    {
        var headers = ctx.Request.Headers;
        string? cluster = headers[TransportProtocol.ClusterHeader];
        if (cluster is null) return TextAsync(ctx, 401, $"missing {TransportProtocol.ClusterHeader} header: {_wrongCluster}");
        if (cluster != _clusterId) return TextAsync(ctx, 403, $"{_wrongCluster}, not '{cluster}'");
        string? token = headers[TransportProtocol.AuthHeader];
        if (token is null || !CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(token.AsSpan()), MemoryMarshal.AsBytes(_token.AsSpan())))
            return TextAsync(ctx, 401, $"wrong or missing cluster secret for cluster '{_clusterId}'");
        return null;
    }

    private async Task GrainAsync(HttpContext ctx, string target)
    {
        if (!TransportProtocol.TrySplitGrainPath(target.AsSpan(TransportProtocol.GrainsPrefix.Length), out var typeRange, out var keyRange, out var methodRange))
        {
            await TextAsync(ctx, 400, $"'{target}' is not /grains/TYPE/KEY/METHOD");
            return;
        }
        if (!HttpMethods.IsPost(ctx.Request.Method))
        {
            await TextAsync(ctx, 405, "grain calls are POSTs");
            return;
        }
        var route = target.AsSpan(TransportProtocol.GrainsPrefix.Length);
        var type = route[typeRange];
        var method = route[methodRange];
        Delegate? handler = null;
        if (_handlers.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(Unescape(type), out var methods))
            methods.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(Unescape(method), out handler);
        string grainKey = Uri.UnescapeDataString(route[keyRange]);
        if (handler is null)
        {
            await TextAsync(ctx, 404, $"this silo ({SiloKey}) serves no method {Uri.UnescapeDataString(method)} of grain type {Uri.UnescapeDataString(type)}");
            return;
        }

        PipeReader reader = ctx.Request.BodyReader;
        ReadResult read;
        byte[]? rented = null;
        int length = 0;
        try
        {
            read = await reader.ReadAsync(ctx.RequestAborted);
            if (!read.IsCompleted)
            {
                // More is coming: gather it into one array, consuming as it arrives, since HTTP/2 flow control reopens
                // the sender's window only for consumed bytes (holding them could stall a large body).
                rented = ArrayPool<byte>.Shared.Rent((int)Math.Max(Math.Min(ctx.Request.ContentLength ?? 0, _options.MaxMessageBytes), read.Buffer.Length));
                while (true)
                {
                    var chunk = read.Buffer;
                    if (length + chunk.Length > rented.Length) rented = Grow(rented, length, checked((int)(length + chunk.Length)));
                    chunk.CopyTo(rented.AsSpan(length));
                    length += (int)chunk.Length;
                    reader.AdvanceTo(chunk.End);
                    if (read.IsCompleted) break;
                    read = await reader.ReadAsync(ctx.RequestAborted);
                }
            }
        }
        catch (BadHttpRequestException e)
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            await TextAsync(ctx, e.StatusCode, e.Message);
            return;
        }
        catch (Exception) when (ctx.RequestAborted.IsCancellationRequested)
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            return;
        }

        // A body that came whole in one read (the usual small step plan) is handed over where it lies in Kestrel's
        // buffer when it is one segment, and released after the handler.
        ReadOnlyMemory<byte> body;
        bool held = rented is null;
        if (!held) body = rented.AsMemory(0, length);
        else if (read.Buffer.IsSingleSegment) body = read.Buffer.First;
        else
        {
            length = checked((int)read.Buffer.Length);
            rented = ArrayPool<byte>.Shared.Rent(length);
            read.Buffer.CopyTo(rented);
            body = rented.AsMemory(0, length);
        }
        try
        {
            if (handler is GrainHandler unary) await CallAsync(ctx, unary, grainKey, body);
            else await StreamAsync(ctx, (GrainStreamHandler)handler, grainKey, body);
        }
        finally
        {
            if (held) reader.AdvanceTo(read.Buffer.End);
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static byte[] Grow(byte[] rented, int used, int needed)
    {
        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, (int)Math.Min(Array.MaxLength, 2L * rented.Length)));
        rented.AsSpan(0, used).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(rented);
        return larger;
    }

    private static ReadOnlySpan<char> Unescape(ReadOnlySpan<char> segment) => segment.Contains('%') ? Uri.UnescapeDataString(segment) : segment;

    private async Task CallAsync(HttpContext ctx, GrainHandler handler, string grainKey, ReadOnlyMemory<byte> body)
    {
        var aborted = ctx.RequestAborted;
        ReadOnlyMemory<byte> answer;
        try
        {
            answer = await handler(grainKey, body, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return; // the caller left: nobody to answer
        }
        catch (Exception e)
        {
            await FailAsync(ctx, e, grainKey);
            return;
        }
        try
        {
            ctx.Response.ContentType = TransportProtocol.OctetStream;
            ctx.Response.ContentLength = answer.Length;
            await ctx.Response.BodyWriter.WriteAsync(answer, aborted);
        }
        catch (Exception) when (aborted.IsCancellationRequested) { }
    }

    private async Task StreamAsync(HttpContext ctx, GrainStreamHandler handler, string grainKey, ReadOnlyMemory<byte> body)
    {
        // The handler stops when the caller leaves or when this endpoint shuts down (its caller then sees the stream cut).
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stopping.Token);
        var token = cancel.Token;
        IAsyncEnumerator<ReadOnlyMemory<byte>>? frames = null;
        try
        {
            bool more;
            try
            {
                frames = handler(grainKey, body, token).GetAsyncEnumerator(token);
                more = await frames.MoveNextAsync();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                Cut(ctx);
                return;
            }
            catch (Exception e)
            {
                // Nothing sent yet: the failure is the answer's status, as for a call.
                await FailAsync(ctx, e, grainKey);
                return;
            }

            ctx.Response.ContentType = TransportProtocol.OctetStream;
            PipeWriter writer = ctx.Response.BodyWriter;
            while (more)
            {
                ReadOnlyMemory<byte> frame = frames.Current;
                if ((uint)frame.Length >= TransportProtocol.FirstReserved || frame.Length > _options.MaxMessageBytes)
                {
                    var e = new InvalidOperationException($"the handler yielded a frame of {frame.Length} bytes, larger than the largest message ({_options.MaxMessageBytes} bytes)");
                    LogHandlerFailed(e, ctx.Request.Path.Value, grainKey);
                    await WriteErrorFrameAsync(writer, 500, e.Message, token);
                    return;
                }
                TransportProtocol.WriteHeader(writer.GetSpan(TransportProtocol.FrameHeaderBytes), (uint)frame.Length);
                writer.Advance(TransportProtocol.FrameHeaderBytes);
                writer.Write(frame.Span);
                var flushed = await writer.FlushAsync(token);
                if (flushed.IsCanceled || flushed.IsCompleted) return; // the caller left
                try
                {
                    more = await frames.MoveNextAsync();
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    Cut(ctx);
                    return;
                }
                catch (Exception e)
                {
                    // Frames were sent: the failure travels as the stream's last frame.
                    bool notFound = e is GrainNotFoundException;
                    if (!notFound) LogHandlerFailed(e, ctx.Request.Path.Value, grainKey);
                    await WriteErrorFrameAsync(writer, notFound ? 404 : 500, e.Message, token);
                    return;
                }
            }
            TransportProtocol.WriteHeader(writer.GetSpan(TransportProtocol.FrameHeaderBytes), TransportProtocol.EndMarker);
            writer.Advance(TransportProtocol.FrameHeaderBytes);
            await writer.FlushAsync(token);
        }
        catch (Exception) when (token.IsCancellationRequested)
        {
            Cut(ctx);
        }
        catch (Exception e)
        {
            // Writing failed for another reason than the caller leaving: cut the stream so the caller sees it broken, not ended.
            LogHandlerFailed(e, ctx.Request.Path.Value, grainKey);
            ctx.Abort();
        }
        finally
        {
            if (frames is not null)
            {
                try
                {
                    await frames.DisposeAsync();
                }
                catch (Exception e) when (e is OperationCanceledException || token.IsCancellationRequested) { }
                catch (Exception e)
                {
                    LogHandlerFailed(e, ctx.Request.Path.Value, grainKey);
                }
            }
        }
    }

    private static ValueTask<FlushResult> WriteErrorFrameAsync(PipeWriter writer, int status, string message, CancellationToken cancellationToken)
    {
        byte[] text = Encoding.UTF8.GetBytes(message.Length > TransportProtocol.MaxErrorTextBytes / 4 ? message[..(TransportProtocol.MaxErrorTextBytes / 4)] : message);
        Span<byte> head = writer.GetSpan(3 * TransportProtocol.FrameHeaderBytes);
        TransportProtocol.WriteHeader(head, TransportProtocol.ErrorMarker);
        TransportProtocol.WriteHeader(head[4..], (uint)status);
        TransportProtocol.WriteHeader(head[8..], (uint)text.Length);
        writer.Advance(3 * TransportProtocol.FrameHeaderBytes);
        writer.Write(text);
        return writer.FlushAsync(cancellationToken);
    }

    /// <summary>Ends a stream without its end frame: the caller left already, or this endpoint is stopping and the caller must see the stream broken.</summary>
    private static void Cut(HttpContext ctx)
    {
        if (!ctx.RequestAborted.IsCancellationRequested) ctx.Abort();
    }

    private Task FailAsync(HttpContext ctx, Exception e, string grainKey)
    {
        if (e is GrainNotFoundException) return TextAsync(ctx, 404, e.Message);
        LogHandlerFailed(e, ctx.Request.Path.Value, grainKey);
        return TextAsync(ctx, 500, e.Message);
    }

    private static async Task TextAsync(HttpContext ctx, int status, string text)
    {
        if (ctx.Response.HasStarted) return;
        try
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            ctx.Response.ContentLength = bytes.Length;
            await ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted);
        }
        catch (Exception) when (ctx.RequestAborted.IsCancellationRequested) { }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo endpoint {Url} (HTTP/2) of silo {SiloKey} in cluster {ClusterId}")]
    private partial void LogListening(string url, string siloKey, string clusterId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Grain handler {Path} for key {GrainKey} failed")]
    private partial void LogHandlerFailed(Exception exception, string? path, string grainKey);
}

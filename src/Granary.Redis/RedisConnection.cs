using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Granary.Redis;

/// <summary>
/// One TCP connection: a writer loop that serializes queued commands and flushes them in batches (so many
/// commands are in flight at once) and a reader loop that parses replies and completes the commands in the
/// order they were written. A connection never reconnects: once lost it fails everything it holds and
/// <see cref="Closed"/> completes; <see cref="RedisClient"/> then makes a new one.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly ILogger _logger;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly Channel<PendingCommand> _outgoing =
        Channel.CreateUnbounded<PendingCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentQueue<PendingCommand> _pending = new();
    private readonly Lock _sync = new();
    private readonly TaskCompletionSource<Exception> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _failed;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;

    private RedisConnection(RedisOptions options, ILogger logger, Socket socket, Action<RedisValue>? onMessage)
    {
        _options = options;
        _logger = logger;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 16 * 1024));
        OnMessage = onMessage;
    }

    /// <summary>The protocol the handshake settled on: 3 after a successful HELLO 3, otherwise 2.</summary>
    public int Protocol { get; private set; } = 2;

    /// <summary>False once the connection is lost or disposed.</summary>
    public bool IsOpen => !_closed.Task.IsCompleted;

    /// <summary>Completes (with the reason) when the connection is lost or disposed.</summary>
    public Task<Exception> Closed => _closed.Task;

    /// <summary>Receives pub/sub messages; set only on a subscriber connection, which then routes them here.</summary>
    private Action<RedisValue>? OnMessage { get; }

    /// <summary>Connects, runs the handshake (HELLO 3 or AUTH, CLIENT SETNAME, SELECT) within the connect timeout.</summary>
    /// <exception cref="RedisConnectionException">The server cannot be reached, refused the handshake, or did not answer in time.</exception>
    public static async Task<RedisConnection> ConnectAsync(RedisOptions options, ILogger logger, CancellationToken cancellationToken,
        Action<RedisValue>? onMessage = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            socket.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            throw e is OperationCanceledException
                ? new RedisConnectionException($"Connecting to Redis {options.EndPoint} timed out after {options.ConnectTimeout.TotalMilliseconds} ms",
                    new RedisTimeoutException("connect timed out"))
                : new RedisConnectionException($"Cannot connect to Redis {options.EndPoint}: {e.Message}", e);
        }

        var connection = new RedisConnection(options, logger, socket, onMessage);
        connection.Start();
        try
        {
            await connection.HandshakeAsync(timeout.Token).ConfigureAwait(false);
            return connection;
        }
        catch (Exception e)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw e switch
            {
                OperationCanceledException => new RedisConnectionException(
                    $"Redis {options.EndPoint} did not answer the handshake within {options.ConnectTimeout.TotalMilliseconds} ms",
                    new RedisTimeoutException("handshake timed out")),
                RedisServerException s => new RedisConnectionException($"Redis {options.EndPoint} refused the handshake: {s.ErrorText}", s),
                RedisConnectionException c => c,
                _ => new RedisConnectionException($"Handshake with Redis {options.EndPoint} failed: {e.Message}", e),
            };
        }
    }

    private void Start()
    {
        _readLoop = Task.Run(ReadLoopAsync);
        _writeLoop = Task.Run(WriteLoopAsync);
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var o = _options;
        var infinite = Timeout.InfiniteTimeSpan;
        bool done = false;
        if (o.PreferResp3)
        {
            var hello = new List<RedisArg> { "HELLO", 3L };
            if (o.Password is not null)
            {
                // HELLO's AUTH always takes a user; "default" is the user a bare password authenticates.
                hello.Add("AUTH");
                hello.Add(o.User ?? "default");
                hello.Add(o.Password);
            }
            if (o.ClientName is not null)
            {
                hello.Add("SETNAME");
                hello.Add(o.ClientName);
            }
            try
            {
                var reply = await ExecuteAsync([.. hello], infinite, cancellationToken).ConfigureAwait(false);
                Protocol = reply.AsDictionary().TryGetValue("proto", out var proto) ? (int)proto.AsInt64() : 3;
                done = true;
            }
            catch (RedisServerException e) when (e.Prefix == "NOPROTO" || e.ErrorText.StartsWith("ERR unknown command", StringComparison.OrdinalIgnoreCase))
            {
                // Redis before 6 has no HELLO; a server may also refuse protocol 3: both speak RESP2.
                RedisLog.FallbackToResp2(_logger, o.EndPoint, e.ErrorText);
            }
        }
        if (!done)
        {
            if (o.Password is not null)
            {
                RedisArg[] auth = o.User is null ? ["AUTH", o.Password] : ["AUTH", o.User, o.Password];
                await ExecuteAsync(auth, infinite, cancellationToken).ConfigureAwait(false);
            }
            if (o.ClientName is not null)
                await ExecuteAsync(["CLIENT", "SETNAME", o.ClientName], infinite, cancellationToken).ConfigureAwait(false);
        }
        if (o.Database != 0)
            await ExecuteAsync(["SELECT", (long)o.Database], infinite, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Queues a command and waits for its reply, its timeout, or cancellation.</summary>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisTimeoutException">No reply within <paramref name="timeout"/>.</exception>
    /// <exception cref="RedisConnectionException">The connection is lost (or was lost while the command was in flight).</exception>
    public async Task<RedisValue> ExecuteAsync(RedisArg[] args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var command = Enqueue(args);
        try
        {
            return await command.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!command.Task.IsCompleted)
        {
            command.Abandon();
            throw new RedisTimeoutException(
                $"{command.Name} got no reply from Redis {_options.EndPoint} within {timeout.TotalMilliseconds} ms");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            command.Abandon();
            throw;
        }
    }

    /// <summary>Queues a command for the writer loop and returns it; its task completes with the reply.</summary>
    public PendingCommand Enqueue(RedisArg[] args)
    {
        if (args.Length == 0)
            throw new ArgumentException("a Redis command needs at least its name", nameof(args));
        var command = new PendingCommand(args);
        if (!_outgoing.Writer.TryWrite(command))
            command.TrySetException(LostException(null));
        return command;
    }

    private async Task WriteLoopAsync()
    {
        var reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // Everything queued meanwhile goes out in one flush: this is where pipelining batches.
                while (reader.TryRead(out var command))
                {
                    if (command.Abandoned)
                        continue;
                    lock (_sync)
                    {
                        if (_failed)
                        {
                            command.TrySetException(LostException(null));
                            continue;
                        }
                        _pending.Enqueue(command);
                    }
                    RespWriter.WriteCommand(_output, command.Args);
                    if (_output.CanGetUnflushedBytes && _output.UnflushedBytes > 1 << 20)
                        await _output.FlushAsync().ConfigureAwait(false);
                }
                var flush = await _output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted)
                    break;
            }
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception? error;
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var consumed = ProcessFrames(buffer);
                _input.AdvanceTo(consumed, buffer.End);
                if (result.IsCompleted)
                {
                    error = new RedisConnectionException($"Redis {_options.EndPoint} closed the connection");
                    break;
                }
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        Fail(error);
    }

    /// <summary>Dispatches every complete frame in <paramref name="buffer"/>; returns where the unread rest starts.</summary>
    private SequencePosition ProcessFrames(ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            var scan = new SequenceReader<byte>(buffer);
            if (!RespParser.TryRead(ref scan, build: false, out _))
                return buffer.Start;
            var frame = buffer.Slice(0, scan.Position);
            var build = new SequenceReader<byte>(frame);
            RespParser.TryRead(ref build, build: true, out var value);
            Dispatch(value!);
            buffer = buffer.Slice(scan.Position);
        }
    }

    private void Dispatch(RedisValue value)
    {
        if (IsMessage(value, out bool isConfirmation))
        {
            if (!isConfirmation)
            {
                if (OnMessage is not null)
                    OnMessage(value);
                else
                    RedisLog.PushDropped(_logger, _options.EndPoint, value.Count > 0 ? value[0].ToString() : "(empty)");
                return;
            }
        }
        if (!_pending.TryDequeue(out var command))
            throw new RedisProtocolException($"Redis {_options.EndPoint} sent a reply ({value.Type}) with no command waiting for it");
        if (command.Abandoned)
            return;
        if (value.IsError)
            command.TrySetException(new RedisServerException(value.ToString(), command.Name));
        else
            command.TrySetResult(value);
    }

    /// <summary>
    /// Whether a frame is out-of-band: a RESP3 push, or on a RESP2 subscriber connection a message array.
    /// (Un)subscribe confirmations arrive as pushes under RESP3 but are the replies of their commands.
    /// </summary>
    private bool IsMessage(RedisValue value, out bool isConfirmation)
    {
        isConfirmation = false;
        bool push = value.Type == RedisType.Push;
        if (!push && !(OnMessage is not null && value.Type == RedisType.Array))
            return false;
        if (value.Count == 0)
            return push;
        string kind = value[0].ToString();
        switch (kind)
        {
            case "message" or "pmessage" or "smessage":
                return true;
            case "subscribe" or "unsubscribe" or "psubscribe" or "punsubscribe" or "ssubscribe" or "sunsubscribe":
                isConfirmation = true;
                return true;
            default:
                return push;
        }
    }

    private RedisConnectionException LostException(Exception? cause) =>
        cause as RedisConnectionException
        ?? new RedisConnectionException(
            cause is null
                ? $"The connection to Redis {_options.EndPoint} is closed"
                : $"The connection to Redis {_options.EndPoint} was lost: {cause.Message}",
            cause);

    /// <summary>Marks the connection dead, fails every queued and in-flight command, and closes the socket.</summary>
    private void Fail(Exception? error)
    {
        lock (_sync)
        {
            if (_failed)
                return;
            _failed = true;
        }
        var lost = LostException(error);
        _outgoing.Writer.TryComplete();
        while (_pending.TryDequeue(out var command))
            command.TrySetException(lost);
        while (_outgoing.Reader.TryRead(out var command))
            command.TrySetException(lost);
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already gone */ }
        _stream.Dispose();
        _closed.TrySetResult(lost);
    }

    /// <summary>Closes the connection; commands still in flight fail with <see cref="RedisConnectionException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        Fail(null);
        try { await Task.WhenAll(_readLoop, _writeLoop).ConfigureAwait(false); } catch (Exception) { /* reported via Closed */ }
        // The stream is already closed: completing must not try to flush what was never sent.
        try { await _input.CompleteAsync().ConfigureAwait(false); } catch (Exception) { /* stream gone */ }
        try { await _output.CompleteAsync().ConfigureAwait(false); } catch (Exception) { /* stream gone */ }
    }
}

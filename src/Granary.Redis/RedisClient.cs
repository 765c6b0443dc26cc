using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Redis;

/// <summary>
/// A Redis client multiplexing every caller over one connection: commands are pipelined (many in flight,
/// replies matched in order), each waits at most <see cref="RedisOptions.CommandTimeout"/> and honours its
/// CancellationToken. When the connection drops, commands in flight fail with
/// <see cref="RedisConnectionException"/> (they may or may not have run), the client reconnects in the
/// background with exponential backoff, and new commands fail fast (or wait up to
/// <see cref="RedisOptions.ReconnectWait"/>) until it is back. Thread-safe.
/// </summary>
/// <remarks>
/// Connection state (SELECT, WATCH, MULTI, SUBSCRIBE, CLIENT REPLY...) is shared by all callers, so do not
/// send such commands through <see cref="ExecuteAsync(object[])"/>: use <see cref="RedisOptions.Database"/>,
/// <see cref="BeginTransactionAsync"/> and <see cref="SubscribeAsync"/>, which use connections of their own.
/// </remarks>
public sealed partial class RedisClient : IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _disposing = new();
    private volatile RedisConnection? _connection;
    private volatile TaskCompletionSource _reconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Exception? _lastError;
    private int _protocol;

    private RedisClient(RedisOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    /// <summary>Connects (TCP, HELLO 3 or RESP2 fallback, AUTH, SELECT) and returns the client.</summary>
    /// <exception cref="RedisConnectionException">The first connection failed; the message says why.</exception>
    public static async Task<RedisClient> ConnectAsync(RedisOptions options, ILogger? logger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options = options.Clone();
        options.Validate();
        var client = new RedisClient(options, logger ?? NullLogger.Instance);
        var connection = await RedisConnection.ConnectAsync(options, client._logger, cancellationToken).ConfigureAwait(false);
        client.Attach(connection);
        return client;
    }

    /// <summary>Connects to <c>redis://[user:password@]host:port[/db]</c> with default timeouts.</summary>
    /// <exception cref="FormatException">The URL is malformed.</exception>
    /// <exception cref="RedisConnectionException">The first connection failed.</exception>
    public static Task<RedisClient> ConnectAsync(string url, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(RedisOptions.Parse(url), logger, cancellationToken);

    /// <summary>A copy of the options the client runs with.</summary>
    public RedisOptions Options => _options.Clone();

    /// <summary>Whether a connection is up right now.</summary>
    public bool IsConnected => _connection is { IsOpen: true };

    /// <summary>The RESP version of the current (or last) connection: 3 after HELLO 3, 2 after the fallback.</summary>
    public int Protocol => _protocol;

    /// <summary>Sends any command and returns its reply as a <see cref="RedisValue"/> tree.</summary>
    /// <param name="args">Command name then arguments: string, byte[], ReadOnlyMemory&lt;byte&gt;, integers or doubles.</param>
    /// <exception cref="RedisServerException">The server answered with an error.</exception>
    /// <exception cref="RedisTimeoutException">No reply within the command timeout.</exception>
    /// <exception cref="RedisConnectionException">Not connected, or the connection was lost with the command in flight.</exception>
    public Task<RedisValue> ExecuteAsync(params object[] args) => ExecuteAsync(args, CancellationToken.None);

    /// <summary>Sends any command and returns its reply as a <see cref="RedisValue"/> tree.</summary>
    /// <param name="args">Command name then arguments: string, byte[], ReadOnlyMemory&lt;byte&gt;, integers or doubles.</param>
    /// <param name="cancellationToken">Cancels the wait (the command may still run on the server if already sent).</param>
    public Task<RedisValue> ExecuteAsync(object[] args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0)
            throw new ArgumentException("a Redis command needs at least its name", nameof(args));
        return ExecuteAsync(RedisArg.FromObjects(args), cancellationToken);
    }

    /// <summary>Sends a command given as <see cref="RedisArg"/>s (no boxing) and returns its reply.</summary>
    public Task<RedisValue> ExecuteAsync(RedisArg[] args, CancellationToken cancellationToken) =>
        ExecuteAsync(args, _options.CommandTimeout, cancellationToken);

    /// <summary>Sends a command with its own timeout instead of <see cref="RedisOptions.CommandTimeout"/>.</summary>
    /// <param name="args">Command name then arguments.</param>
    /// <param name="timeout">How long to wait for the reply; <see cref="Timeout.InfiniteTimeSpan"/> waits forever.</param>
    /// <param name="cancellationToken">Cancels the wait (the command may still run on the server if already sent).</param>
    public Task<RedisValue> ExecuteAsync(RedisArg[] args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        // Connected (the usual case): no extra async state machine on the way to the connection.
        return _connection is { IsOpen: true } connection
            ? connection.ExecuteAsync(args, timeout, cancellationToken)
            : ExecuteWhenConnectedAsync(args, timeout, cancellationToken);
    }

    private async Task<RedisValue> ExecuteWhenConnectedAsync(RedisArg[] args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var connection = await WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(args, timeout, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RedisConnection> WaitForConnectionAsync(CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
            // Read the signal before the connection: MonitorAsync replaces the signal before clearing the
            // connection, so a stale (completed) signal only costs one more turn of this loop.
            var signal = _reconnected;
            var connection = _connection;
            if (connection is { IsOpen: true })
                return connection;
            var left = _options.ReconnectWait - Stopwatch.GetElapsedTime(start);
            if (_options.ReconnectWait <= TimeSpan.Zero)
                throw NotConnected("");
            if (left <= TimeSpan.Zero)
                throw NotConnected($" (waited {_options.ReconnectWait.TotalMilliseconds} ms)");
            if (connection is not null)
            {
                // Lost a moment ago; MonitorAsync is about to notice.
                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
                continue;
            }
            try
            {
                await signal.Task.WaitAsync(left, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Checked again at the top of the loop.
            }
        }
    }

    private RedisConnectionException NotConnected(string waited)
    {
        ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
        var last = _lastError;
        return new RedisConnectionException(
            $"Not connected to Redis {_options.EndPoint}; reconnecting{waited}" + (last is null ? "" : $" (last error: {last.Message})"),
            last);
    }

    private void Attach(RedisConnection connection)
    {
        if (_disposing.IsCancellationRequested)
        {
            _ = connection.DisposeAsync();
            return;
        }
        _protocol = connection.Protocol;
        _connection = connection;
        _reconnected.TrySetResult();
        RedisLog.Connected(_logger, _options.EndPoint, connection.Protocol, _options.Database);
        _ = MonitorAsync(connection);
    }

    /// <summary>Waits for the connection to drop, then reconnects with exponential backoff until disposed.</summary>
    private async Task MonitorAsync(RedisConnection connection)
    {
        var reason = await connection.Closed.ConfigureAwait(false);
        if (_disposing.IsCancellationRequested)
            return;
        // Replace the signal before clearing the connection, so that a caller who sees no connection
        // always waits on a signal that the next Attach completes.
        _reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection = null;
        _lastError = reason;
        RedisLog.ConnectionLost(_logger, _options.EndPoint, reason);
        await connection.DisposeAsync().ConfigureAwait(false);

        var next = await RedisBackoff.ConnectAsync(_options, _logger,
            ct => RedisConnection.ConnectAsync(_options, _logger, ct), e => _lastError = e, _disposing.Token).ConfigureAwait(false);
        if (next is not null)
            Attach(next);
    }

    /// <summary>
    /// Opens a dedicated connection for WATCH/MULTI/EXEC (connection state that must not be shared with
    /// other callers). Dispose the transaction to close it.
    /// </summary>
    /// <exception cref="RedisConnectionException">The dedicated connection could not be made.</exception>
    public async Task<RedisTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
        var connection = await RedisConnection.ConnectAsync(_options, _logger, cancellationToken).ConfigureAwait(false);
        return new RedisTransaction(connection, _options.CommandTimeout);
    }

    /// <summary>
    /// Subscribes to channels on a dedicated connection (re-subscribed after reconnects) and calls
    /// <paramref name="handler"/> with (channel, message) for each message, one at a time.
    /// </summary>
    /// <exception cref="RedisConnectionException">The dedicated connection could not be made.</exception>
    public Task<RedisSubscription> SubscribeAsync(IEnumerable<string> channels, Action<string, RedisValue> handler,
        CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
        return RedisSubscription.StartAsync(_options, _logger, [.. channels], handler, cancellationToken);
    }

    /// <summary>Closes the connection and stops reconnecting; commands in flight fail with <see cref="RedisConnectionException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposing.IsCancellationRequested)
            return;
        _disposing.Cancel();
        var connection = _connection;
        _connection = null;
        _reconnected.TrySetResult();
        if (connection is not null)
            await connection.DisposeAsync().ConfigureAwait(false);
    }
}

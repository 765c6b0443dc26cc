using Microsoft.Extensions.Logging;

namespace Granary.Redis;

/// <summary>
/// Channels subscribed on a connection of its own (from <see cref="RedisClient.SubscribeAsync"/>). The handler
/// runs on the connection's reader, one message at a time, so it should be quick. After a lost connection the
/// subscription reconnects with the client's backoff and subscribes again; messages published meanwhile are lost
/// (Redis pub/sub is at-most-once). Dispose to unsubscribe and close.
/// </summary>
public sealed class RedisSubscription : IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly ILogger _logger;
    private readonly Action<string, RedisValue> _handler;
    private readonly HashSet<string> _channels;
    private readonly CancellationTokenSource _disposing = new();
    private volatile RedisConnection? _connection;

    private RedisSubscription(RedisOptions options, ILogger logger, string[] channels, Action<string, RedisValue> handler)
    {
        _options = options;
        _logger = logger;
        _channels = new HashSet<string>(channels, StringComparer.Ordinal);
        _handler = handler;
    }

    internal static async Task<RedisSubscription> StartAsync(RedisOptions options, ILogger logger, string[] channels,
        Action<string, RedisValue> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (channels.Length == 0)
            throw new ArgumentException("subscribe to at least one channel", nameof(channels));
        var subscription = new RedisSubscription(options, logger, channels, handler);
        subscription.Attach(await subscription.ConnectAsync(cancellationToken).ConfigureAwait(false));
        return subscription;
    }

    /// <summary>Whether the subscription's connection is up right now.</summary>
    public bool IsConnected => _connection is not null;

    /// <summary>The channels subscribed to.</summary>
    public IReadOnlyCollection<string> Channels
    {
        get { lock (_channels) return [.. _channels]; }
    }

    /// <summary>Subscribes to one more channel.</summary>
    /// <exception cref="RedisConnectionException">The subscription is disconnected (it will subscribe on reconnect).</exception>
    public async Task AddAsync(string channel, CancellationToken cancellationToken = default)
    {
        lock (_channels) _channels.Add(channel);
        var connection = _connection ?? throw new RedisConnectionException(
            $"Subscription to Redis {_options.EndPoint} is reconnecting; '{channel}' will be subscribed when it is back");
        await connection.ExecuteAsync(["SUBSCRIBE", channel], _options.CommandTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Unsubscribes from a channel.</summary>
    public async Task RemoveAsync(string channel, CancellationToken cancellationToken = default)
    {
        lock (_channels) _channels.Remove(channel);
        if (_connection is { } connection)
            await connection.ExecuteAsync(["UNSUBSCRIBE", channel], _options.CommandTimeout, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RedisConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = await RedisConnection.ConnectAsync(_options, _logger, cancellationToken, OnMessage).ConfigureAwait(false);
        try
        {
            // One channel per SUBSCRIBE: each gets exactly one confirmation, the reply matched to its command.
            foreach (var channel in Channels)
                await connection.ExecuteAsync(["SUBSCRIBE", channel], _options.CommandTimeout, cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void Attach(RedisConnection connection)
    {
        _connection = connection;
        _ = MonitorAsync(connection);
    }

    private async Task MonitorAsync(RedisConnection connection)
    {
        var reason = await connection.Closed.ConfigureAwait(false);
        if (_disposing.IsCancellationRequested)
            return;
        _connection = null;
        RedisLog.ConnectionLost(_logger, _options.EndPoint, reason);
        await connection.DisposeAsync().ConfigureAwait(false);
        var next = await RedisBackoff.ConnectAsync(_options, _logger, ConnectAsync, _ => { }, _disposing.Token).ConfigureAwait(false);
        if (next is not null)
            Attach(next);
    }

    private void OnMessage(RedisValue message)
    {
        // ["message", channel, payload] or ["pmessage", pattern, channel, payload]; anything else is not for us.
        if (message.Count < 3)
            return;
        string kind = message[0].ToString();
        var (channel, payload) = kind == "pmessage" && message.Count >= 4 ? (message[2], message[3]) : (message[1], message[2]);
        if (kind is not ("message" or "pmessage" or "smessage"))
            return;
        try
        {
            _handler(channel.ToString(), payload);
        }
        catch (Exception e)
        {
            RedisLog.HandlerFailed(_logger, channel.ToString(), e);
        }
    }

    /// <summary>Stops reconnecting and closes the connection (which ends every subscription on it).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposing.IsCancellationRequested)
            return;
        _disposing.Cancel();
        var connection = _connection;
        _connection = null;
        if (connection is not null)
            await connection.DisposeAsync().ConfigureAwait(false);
    }
}

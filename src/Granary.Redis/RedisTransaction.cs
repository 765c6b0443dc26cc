namespace Granary.Redis;

/// <summary>
/// WATCH/MULTI/EXEC on a connection of its own (from <see cref="RedisClient.BeginTransactionAsync"/>):
/// watch keys, read them with <see cref="ExecuteAsync(object[], CancellationToken)"/>, <see cref="Queue"/>
/// the writes, then <see cref="ExecAsync"/>, which returns null when a watched key changed.
/// Not thread-safe: one caller drives a transaction. Dispose to close the connection.
/// </summary>
public sealed class RedisTransaction : IAsyncDisposable
{
    private readonly RedisConnection _connection;
    private readonly TimeSpan _timeout;
    private readonly List<RedisArg[]> _queued = [];

    internal RedisTransaction(RedisConnection connection, TimeSpan timeout)
    {
        _connection = connection;
        _timeout = timeout;
    }

    /// <summary>The RESP version of the transaction's connection.</summary>
    public int Protocol => _connection.Protocol;

    /// <summary>WATCH: EXEC will abort if any of these keys is modified before it runs.</summary>
    public Task WatchAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        RedisArg[] args = ["WATCH", .. keys.Select(k => (RedisArg)k)];
        if (args.Length == 1)
            throw new ArgumentException("WATCH needs at least one key", nameof(keys));
        return _connection.ExecuteAsync(args, _timeout, cancellationToken);
    }

    /// <summary>UNWATCH: forgets every watched key.</summary>
    public Task UnwatchAsync(CancellationToken cancellationToken = default) =>
        _connection.ExecuteAsync(["UNWATCH"], _timeout, cancellationToken);

    /// <summary>Runs a command now (outside MULTI), typically to read watched keys.</summary>
    public Task<RedisValue> ExecuteAsync(object[] args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        return _connection.ExecuteAsync(RedisArg.FromObjects(args), _timeout, cancellationToken);
    }

    /// <summary>Adds a command to run inside MULTI/EXEC; nothing is sent until <see cref="ExecAsync"/>.</summary>
    public void Queue(params object[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0)
            throw new ArgumentException("a Redis command needs at least its name", nameof(args));
        _queued.Add(RedisArg.FromObjects(args));
    }

    /// <summary>
    /// Sends MULTI, the queued commands and EXEC in one write. Returns each command's reply (a failed command
    /// has an error reply, <see cref="RedisValue.IsError"/>), or null when a watched key changed and nothing ran.
    /// </summary>
    /// <exception cref="RedisServerException">The server refused a queued command (EXECABORT); nothing ran.</exception>
    public async Task<IReadOnlyList<RedisValue>?> ExecAsync(CancellationToken cancellationToken = default)
    {
        var commands = new List<Task<RedisValue>>(_queued.Count + 2);
        // ExecuteAsync queues synchronously before it awaits, so the commands go out in this order, together.
        commands.Add(_connection.ExecuteAsync(["MULTI"], _timeout, cancellationToken));
        foreach (var args in _queued)
            commands.Add(_connection.ExecuteAsync(args, _timeout, cancellationToken));
        var exec = _connection.ExecuteAsync(["EXEC"], _timeout, cancellationToken);
        commands.Add(exec);
        _queued.Clear();
        try
        {
            await Task.WhenAll(commands).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Queued commands fail alone when the server refuses them; EXEC then says EXECABORT. Report EXEC's error.
            if (exec.IsFaulted || exec.IsCanceled)
                await exec.ConfigureAwait(false);
            foreach (var task in commands)
                if (task.IsFaulted || task.IsCanceled)
                    await task.ConfigureAwait(false);
        }
        var reply = exec.Result;
        return reply.IsNull ? null : reply.Items;
    }

    /// <summary>Closes the transaction's connection (the server discards any pending MULTI and WATCH).</summary>
    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

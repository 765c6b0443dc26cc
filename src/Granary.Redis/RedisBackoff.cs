using Microsoft.Extensions.Logging;

namespace Granary.Redis;

/// <summary>The reconnect loop shared by the client and subscriptions: retries with exponential backoff and jitter.</summary>
internal static class RedisBackoff
{
    /// <summary>
    /// Calls <paramref name="connect"/> until it succeeds, waiting <see cref="RedisOptions.ReconnectBackoffMin"/>
    /// after the first failure and doubling up to <see cref="RedisOptions.ReconnectBackoffMax"/>. Returns null
    /// when <paramref name="stopping"/> is cancelled first (a connection made meanwhile is closed).
    /// </summary>
    public static async Task<RedisConnection?> ConnectAsync(RedisOptions options, ILogger logger,
        Func<CancellationToken, Task<RedisConnection>> connect, Action<Exception> onError, CancellationToken stopping)
    {
        var delay = options.ReconnectBackoffMin;
        for (int attempt = 1; !stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                var connection = await connect(stopping).ConfigureAwait(false);
                if (!stopping.IsCancellationRequested)
                    return connection;
                await connection.DisposeAsync().ConfigureAwait(false);
                return null;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception e)
            {
                onError(e);
                // +-20 % jitter so that many clients do not reconnect in lockstep.
                var wait = delay * (0.8 + 0.4 * Random.Shared.NextDouble());
                RedisLog.ReconnectFailed(logger, attempt, options.EndPoint, (long)wait.TotalMilliseconds, e);
                try { await Task.Delay(wait, stopping).ConfigureAwait(false); }
                catch (OperationCanceledException) { return null; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.ReconnectBackoffMax.Ticks));
            }
        }
        return null;
    }
}

using Granary.Redis;

namespace Granary.Cluster;

/// <summary>
/// The loop every role of a silo runs against the cluster store: a pass every interval until cancelled. Redis being
/// unreachable never ends it (what runs keeps running); the outage is reported once when it starts and once when it
/// ends, not once per pass.
/// </summary>
public static class StoreLoop
{
    /// <param name="pass">One pass; a <see cref="RedisException"/> or <see cref="IOException"/> from it counts as an outage.</param>
    /// <param name="outage">Called with the reason when passes start failing.</param>
    /// <param name="back">Called when a pass succeeds again after an outage.</param>
    /// <param name="failed">Called for any other exception of a pass (the loop goes on); null lets it end the loop.</param>
    public static async Task RunAsync(TimeSpan interval, Func<CancellationToken, Task> pass, Action<string> outage, Action back,
        Action<Exception>? failed, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        bool failing = false;
        do
        {
            try
            {
                await pass(cancellationToken).ConfigureAwait(false);
                if (failing) back();
                failing = false;
            }
            catch (Exception e) when (e is RedisException or IOException && !cancellationToken.IsCancellationRequested)
            {
                if (!failing) outage(e.Message);
                failing = true;
            }
            catch (Exception e) when (failed is not null && e is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                failed(e);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }
}

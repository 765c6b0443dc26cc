using StackExchange.Redis;

namespace Granary.Grains;

/// <summary>
/// Turns a grain call's failure on the cluster store (a StackExchange.Redis exception, anywhere in its chain, e.g. the
/// management grain reading membership while Redis restarts) into an <see cref="OrleansException"/> that says so.
/// Orleans has no codec for Redis's exception types: without this the caller gets a CodecNotFoundException about
/// serialization in place of the store's error.
/// </summary>
internal sealed class StoreErrorCallFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (StoreError(e) is { } store)
        {
            throw new OrleansException($"the cluster store is unreachable ({store.GetType().Name}: {store.Message})");
        }
    }

    private static Exception? StoreError(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is RedisException or RedisTimeoutException) return x;
        return null;
    }
}

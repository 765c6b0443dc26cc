using Granary.Redis;

namespace Granary.Cluster.Placement;

/// <summary>
/// The coordinator lease in Redis: one silo holds it (SET NX PX) and renews it while it lives; another takes it
/// only once it expired. Renewal checks the holder atomically, so a silo that lost the lease never extends
/// someone else's.
/// </summary>
public sealed class CoordinatorLease(RedisClient redis, ClusterKeys keys, string siloKey, TimeSpan duration)
{
    // KEYS: lease; ARGV: silo key, ms. Returns 1 when this silo holds the lease afterwards.
    private const string AcquireScript = """
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
        if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
        return 0
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    /// <summary>Takes or renews the lease; true when this silo holds it for <c>duration</c> from now.</summary>
    public async Task<bool> TryHoldAsync(CancellationToken cancellationToken = default) =>
        (await redis.ScriptEvaluateAsync(AcquireScript, [keys.CoordinatorLease], [siloKey, (long)duration.TotalMilliseconds], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>Gives the lease up (when leaving) so that another silo takes over at once.</summary>
    public Task ReleaseAsync(CancellationToken cancellationToken = default) =>
        redis.ScriptEvaluateAsync(ReleaseScript, [keys.CoordinatorLease], [siloKey], cancellationToken);

    /// <summary>The silo holding the lease, or null.</summary>
    public Task<string?> HolderAsync(CancellationToken cancellationToken = default) => redis.GetStringAsync(keys.CoordinatorLease, cancellationToken);
}

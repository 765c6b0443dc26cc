using System.Security.Cryptography;
using System.Text;
using Granary.Redis;

namespace Granary.Cluster.Membership;

/// <summary>
/// The membership table in Redis, as Orleans' Redis clustering keeps it: a hash of silo rows with a version
/// that every change bumps through compare-and-swap (a Lua script, atomic on the server), and a separate,
/// unversioned hash of I-am-alive times stamped with the server's clock.
/// </summary>
public sealed class MembershipTable(RedisClient redis, ClusterKeys keys)
{
    private const string ReadScript = """
        local t = redis.call('TIME')
        return { tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000),
                 redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
        """;

    // KEYS: version, silos; ARGV: expected version, silo key, row JSON. Returns the new version, or -1 on a conflict.
    private const string WriteScript = """
        if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return -1 end
        redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
        return redis.call('INCR', KEYS[1])
        """;

    private const string HeartbeatScript = """
        local t = redis.call('TIME')
        redis.call('HSET', KEYS[1], ARGV[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
        return 1
        """;

    // KEYS: version, silos, alive, load; ARGV: expected version, silo keys... Returns the new version, or -1 on a conflict.
    private const string RemoveScript = """
        if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return -1 end
        for i = 2, #ARGV do
            redis.call('HDEL', KEYS[2], ARGV[i])
            redis.call('HDEL', KEYS[3], ARGV[i])
            redis.call('HDEL', KEYS[4], ARGV[i])
        end
        return redis.call('INCR', KEYS[1])
        """;

    // KEYS: meta; ARGV: secret hash. SET NX, then the value that is there: {1 if this call set it, stored hash}.
    private const string IdentityScript = """
        local created = redis.call('SET', KEYS[1], ARGV[1], 'NX')
        return { created and 1 or 0, redis.call('GET', KEYS[1]) }
        """;

    public ClusterKeys Keys => keys;

    /// <summary>The cluster identity stored under <see cref="ClusterKeys.Meta"/>: the lowercase hex SHA-256 of the secret.</summary>
    public static string SecretHash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>
    /// Sets the cluster identity to <paramref name="secretHash"/> when no silo has set it yet (SET NX), and returns
    /// the identity the cluster has, with whether this call set it (a new cluster, or Redis lost the key).
    /// </summary>
    public async Task<(string Hash, bool Created)> EnsureIdentityAsync(string secretHash, CancellationToken cancellationToken = default)
    {
        var reply = await redis.ScriptEvaluateAsync(IdentityScript, [keys.Meta], [secretHash], cancellationToken).ConfigureAwait(false);
        return (reply[1].AsString() ?? "", reply[0].AsInt64() == 1);
    }

    /// <summary>Reads the rows, the I-am-alive times, the version and the server's clock in one atomic step.</summary>
    public async Task<MembershipSnapshot> ReadAsync(CancellationToken cancellationToken = default)
    {
        var reply = await redis.ScriptEvaluateAsync(ReadScript, [keys.Version, keys.Silos, keys.Alive], null, cancellationToken).ConfigureAwait(false);
        long version = reply[0].AsInt64(), now = reply[1].AsInt64();
        var rows = new List<SiloRow>();
        foreach (var (_, json) in Pairs(reply[2]))
        {
            if (ClusterJson.TryRead(json, ClusterJson.Default.SiloRow) is { } row) rows.Add(row);
        }
        var alive = new Dictionary<string, long>();
        foreach (var (key, at) in Pairs(reply[3]))
        {
            if (long.TryParse(at, out long ms)) alive[key] = ms;
        }
        return new MembershipSnapshot(version, now, rows, alive);
    }

    /// <summary>Writes a row if the table is still at <paramref name="expectedVersion"/>; false when another silo changed it first.</summary>
    public async Task<bool> TryWriteAsync(SiloRow row, long expectedVersion, CancellationToken cancellationToken = default)
    {
        var reply = await redis.ScriptEvaluateAsync(WriteScript, [keys.Version, keys.Silos],
            [expectedVersion, row.Key, ClusterJson.Write(row, ClusterJson.Default.SiloRow)], cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() >= 0;
    }

    /// <summary>
    /// Reads, changes and writes one row with compare-and-swap, retrying on conflicts; <paramref name="change"/>
    /// returns null to write nothing. Returns the row written, or null.
    /// </summary>
    public async Task<SiloRow?> UpdateAsync(string key, Func<SiloRow?, MembershipSnapshot, SiloRow?> change, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            var snapshot = await ReadAsync(cancellationToken).ConfigureAwait(false);
            var row = change(snapshot.Find(key), snapshot);
            if (row is null) return null;
            if (await TryWriteAsync(row, snapshot.Version, cancellationToken).ConfigureAwait(false)) return row;
            if (attempt > 50) throw new InvalidOperationException($"the membership table kept changing while updating {key}");
            await Task.Delay(Random.Shared.Next(5, 30), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Removes rows (with their I-am-alive times and loads) if the table is still at <paramref name="expectedVersion"/>;
    /// false when another silo changed it first.
    /// </summary>
    public async Task<bool> TryRemoveAsync(IReadOnlyList<string> siloKeys, long expectedVersion, CancellationToken cancellationToken = default)
    {
        var args = new RedisArg[1 + siloKeys.Count];
        args[0] = expectedVersion;
        for (int i = 0; i < siloKeys.Count; i++) args[1 + i] = siloKeys[i];
        var reply = await redis.ScriptEvaluateAsync(RemoveScript, [keys.Version, keys.Silos, keys.Alive, keys.Load], args, cancellationToken).ConfigureAwait(false);
        return reply.AsInt64() >= 0;
    }

    /// <summary>Stamps the silo's I-am-alive time with the Redis server's clock.</summary>
    public Task HeartbeatAsync(string key, CancellationToken cancellationToken = default) =>
        redis.ScriptEvaluateAsync(HeartbeatScript, [keys.Alive], [key], cancellationToken);

    public Task PublishLoadAsync(string key, SiloLoad load, CancellationToken cancellationToken = default) =>
        redis.HSetAsync(keys.Load, key, ClusterJson.Write(load, ClusterJson.Default.SiloLoad), cancellationToken);

    public async Task<Dictionary<string, SiloLoad>> ReadLoadsAsync(CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<string, SiloLoad>();
        foreach (var (key, value) in await redis.HGetAllAsync(keys.Load, cancellationToken).ConfigureAwait(false))
        {
            if (ClusterJson.TryRead(value.AsString(), ClusterJson.Default.SiloLoad) is { } load) result[key] = load;
        }
        return result;
    }

    /// <summary>Flat [field, value, ...] (RESP2) or a map (RESP3) as pairs of strings.</summary>
    internal static IEnumerable<(string Key, string? Value)> Pairs(RedisValue reply)
    {
        var items = reply.Items;
        for (int i = 0; i + 1 < items.Count; i += 2) yield return (items[i].AsString() ?? "", items[i + 1].AsString());
    }
}

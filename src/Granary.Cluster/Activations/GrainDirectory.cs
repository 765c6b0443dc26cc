using Granary.Redis;

namespace Granary.Cluster.Activations;

/// <summary>
/// The grain directory in Redis: grain id -> its activation. A silo registers what it activated and
/// unregisters it when it deactivates; entries of dead silos are dropped by readers that know the membership
/// (<see cref="ReadAsync"/> keeps what a filter accepts), so a stale entry never routes a call to a dead silo.
/// </summary>
public sealed class GrainDirectory(RedisClient redis, ClusterKeys keys)
{
    public Task RegisterAsync(GrainActivation activation, CancellationToken cancellationToken = default) =>
        redis.HSetAsync(keys.Directory, activation.GrainId, ClusterJson.Write(activation, ClusterJson.Default.GrainActivation), cancellationToken);

    /// <summary>Removes the entry if it still names <paramref name="silo"/> (another silo may have taken the grain since).</summary>
    public Task UnregisterAsync(string grainId, string silo, CancellationToken cancellationToken = default) =>
        redis.ScriptEvaluateAsync(UnregisterScript, [keys.Directory], [grainId, silo], cancellationToken);

    /// <summary>Every registered activation that <paramref name="keep"/> accepts (e.g. those on live silos).</summary>
    public async Task<List<GrainActivation>> ReadAsync(Func<GrainActivation, bool>? keep = null, CancellationToken cancellationToken = default)
    {
        var result = new List<GrainActivation>();
        foreach (var (_, value) in await redis.HGetAllAsync(keys.Directory, cancellationToken).ConfigureAwait(false))
        {
            if (ClusterJson.TryRead(value.AsString(), ClusterJson.Default.GrainActivation) is { } activation && (keep is null || keep(activation))) result.Add(activation);
        }
        return result;
    }

    // KEYS: directory; ARGV: grain id, silo key. Deletes only the entry that names this silo.
    private const string UnregisterScript = """
        local v = redis.call('HGET', KEYS[1], ARGV[1])
        if v and cjson.decode(v).silo == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
        return 0
        """;
}

using System.Text.Json;
using StackExchange.Redis;

namespace Granary.Grains.Coordination;

/// <summary>The coordinator's state as one JSON value in the cluster's Redis (key "granary:{cluster id}:coordinator").</summary>
internal sealed class RedisClusterStateStore(IConnectionMultiplexer redis, string clusterId) : IClusterStateStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly RedisKey _key = $"granary:{clusterId}:coordinator";

    public async Task<CoordinatorState?> ReadAsync(CancellationToken cancellationToken)
    {
        var value = await redis.GetDatabase().StringGetAsync(_key).WaitAsync(cancellationToken).ConfigureAwait(false);
        return value.IsNullOrEmpty ? null : JsonSerializer.Deserialize<CoordinatorState>((string)value!, Json);
    }

    public Task WriteAsync(CoordinatorState state, CancellationToken cancellationToken) =>
        redis.GetDatabase().StringSetAsync(_key, JsonSerializer.Serialize(state, Json)).WaitAsync(cancellationToken);
}

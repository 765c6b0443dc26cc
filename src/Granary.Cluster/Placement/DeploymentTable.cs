using Granary.Redis;

namespace Granary.Cluster.Placement;

/// <summary>The desired state (deployments) and the placement (replicas) in Redis, one JSON value per hash field.</summary>
public sealed class DeploymentTable(RedisClient redis, ClusterKeys keys)
{
    public async Task<List<DeploymentSpec>> ReadDeploymentsAsync(CancellationToken cancellationToken = default) =>
        await ReadAllAsync(keys.Deployments, ClusterJson.Default.DeploymentSpec, cancellationToken).ConfigureAwait(false);

    public async Task<List<ReplicaPlacement>> ReadPlacementsAsync(CancellationToken cancellationToken = default) =>
        await ReadAllAsync(keys.Placements, ClusterJson.Default.ReplicaPlacement, cancellationToken).ConfigureAwait(false);

    /// <summary>Writes (or replaces) a deployment and marks the cluster as having state.</summary>
    public async Task WriteDeploymentAsync(DeploymentSpec spec, CancellationToken cancellationToken = default)
    {
        spec.Validate();
        await redis.HSetAsync(keys.Deployments, spec.Name, ClusterJson.Write(spec, ClusterJson.Default.DeploymentSpec), cancellationToken).ConfigureAwait(false);
        await MarkEpochAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes a deployment; the coordinator then removes its replicas. False when there was none of that name.</summary>
    public Task<bool> DeleteDeploymentAsync(string name, CancellationToken cancellationToken = default) => redis.HDelAsync(keys.Deployments, name, cancellationToken);

    public Task WritePlacementAsync(ReplicaPlacement placement, CancellationToken cancellationToken = default) =>
        redis.HSetAsync(keys.Placements, placement.Id, ClusterJson.Write(placement, ClusterJson.Default.ReplicaPlacement), cancellationToken);

    public Task RemovePlacementAsync(string replicaId, CancellationToken cancellationToken = default) => redis.HDelAsync(keys.Placements, replicaId, cancellationToken);

    /// <summary>True while Redis still holds the cluster's state marker (false after it lost its data).</summary>
    public Task<bool> HasEpochAsync(CancellationToken cancellationToken = default) => redis.ExistsAsync(keys.Epoch, cancellationToken);

    public Task MarkEpochAsync(CancellationToken cancellationToken = default) =>
        redis.SetAsync(keys.Epoch, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), condition: SetCondition.IfNotExists, cancellationToken: cancellationToken);

    private async Task<List<T>> ReadAllAsync<T>(string key, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken) where T : class
    {
        var result = new List<T>();
        foreach (var (_, value) in await redis.HGetAllAsync(key, cancellationToken).ConfigureAwait(false))
        {
            if (ClusterJson.TryRead(value.AsString(), type) is { } item) result.Add(item);
        }
        return result;
    }
}

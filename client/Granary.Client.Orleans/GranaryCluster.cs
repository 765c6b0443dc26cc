using Microsoft.Extensions.Options;

namespace Granary.Client.Orleans;

/// <summary>A Granary cluster seen through an Orleans client: its deployments as <see cref="GranaryModel"/>s.</summary>
public sealed class GranaryCluster(IClusterClient client, IOptions<GranaryOrleansOptions> options)
{
    /// <summary>The deployment <paramref name="name"/>; null or empty: the cluster's only deployment.</summary>
    public GranaryModel GetModel(string? name = null) => new(client.GetGrain<IModelGrain>(name ?? ""), name ?? "", options.Value.MaxResumes);
}

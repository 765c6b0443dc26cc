using System.Collections.Concurrent;
using Granary.Client.Orleans;
using Granary.Grains.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Granary.Grains;

/// <summary>
/// The silo's <see cref="ClusterGateway"/>s, one per deployment name ("" for the cluster's only one), made when first
/// asked for a deployment that exists: the OpenAI server of a gateway silo and the model grains Orleans clients call
/// share them.
/// </summary>
public sealed class ModelGateways(IGrainFactory grains, IClusterMembershipService membership, ReplicaHost replicas, IHostApplicationLifetime lifetime, ILoggerFactory loggers) : IDisposable
{
    /// <summary>How long a first request waits for a new gateway to see its deployment's replicas.</summary>
    private static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Lazy<ClusterGateway>> _gateways = new();

    /// <summary>The gateway of a deployment, made here when needed; it asks the coordinator for its replicas once the silo has started.</summary>
    public ClusterGateway For(string? deployment) => _gateways.GetOrAdd(deployment ?? "", name => new Lazy<ClusterGateway>(() =>
    {
        var gateway = new ClusterGateway(name.Length == 0 ? null : name, grains, membership, replicas, loggers);
        lifetime.ApplicationStarted.Register(gateway.Start); // at once when it has
        return gateway;
    })).Value;

    /// <summary>
    /// The gateway of a deployment that exists, once it routes (or after <see cref="ReadyWait"/>); a
    /// <see cref="GranaryRequestException"/> (model_not_found) for a name the coordinator does not know, so that bad
    /// names make no gateway.
    /// </summary>
    public async Task<ClusterGateway> ForExistingAsync(string deployment, CancellationToken cancellationToken)
    {
        if (!_gateways.ContainsKey(deployment))
        {
            var view = await grains.GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key).GetViewAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            var names = view.Deployments.Select(d => d.Name).ToList();
            bool known = deployment.Length == 0 ? names.Count == 1 : names.Contains(deployment);
            if (!known)
            {
                string served = names.Count == 0 ? "nothing yet" : string.Join(", ", names);
                throw new GranaryRequestException(deployment.Length == 0 ? $"name a deployment: the cluster serves {served}"
                    : $"The model '{deployment}' does not exist. The cluster serves {served}.", "model", "model_not_found");
            }
        }
        var gateway = For(deployment);
        var deadline = DateTime.UtcNow + ReadyWait;
        while (!gateway.IsReady && DateTime.UtcNow < deadline) await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        return gateway;
    }

    public void Dispose()
    {
        foreach (var gateway in _gateways.Values) if (gateway.IsValueCreated) gateway.Value.Dispose();
    }
}

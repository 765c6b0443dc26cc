using Granary.Client.Orleans;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;
using Orleans.Serialization;
using StackExchange.Redis;

namespace Granary.Grains;

/// <summary>
/// An Orleans client of a Granary cluster, for the CLI (deploy, cluster status) and tools: it finds the silos'
/// gateways in the cluster's Redis. Calls fail after <c>responseTimeout</c>: an external client is not told that a
/// silo died, so a short timeout is how it learns.
/// </summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterConnection(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects; <see cref="IOException"/> naming the address when Redis cannot be reached or no silo of the cluster is there.</summary>
    /// <param name="certificate">PFX of the cluster's certificate when it runs mutual TLS.</param>
    public static async Task<ClusterConnection> ConnectAsync(string redisUrl, string clusterId, string? certificate = null, TimeSpan? responseTimeout = null,
        ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        var configuration = RedisAddress.Parse(redisUrl);
        configuration.AbortOnConnectFail = true;
        try
        {
            // Reach Redis first: Orleans' client would retry without saying where it looks.
            await using var probe = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        }
        catch (RedisConnectionException e)
        {
            throw new IOException($"cannot reach the cluster store {redisUrl}: {e.Message}", e);
        }
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        if (loggers is not null) builder.Logging.AddProvider(new Granary.Serving.ForwardingLoggerProvider(loggers)).AddFilter("Orleans", LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.UseGranaryCluster(new GranaryOrleansOptions
            {
                RedisUrl = redisUrl,
                ClusterId = clusterId,
                CertificatePath = certificate,
                CertificatePassword = Environment.GetEnvironmentVariable("GRANARY_CLUSTER_CERTIFICATE_PASSWORD"),
                ResponseTimeout = responseTimeout ?? TimeSpan.FromSeconds(30),
            });
            // Status and deploy carry the cluster's own types (deployments, placements).
            client.Services.AddSerializer(s => s.AddGranaryTypes());
        });
        var host = builder.Build();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(20));
            await host.StartAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            host.Dispose();
            throw new IOException($"no silo of cluster '{clusterId}' answers through {redisUrl}: {e.Message}", e);
        }
        return new ClusterConnection(host);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _host.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        _host.Dispose();
    }
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using Granary.Client.Orleans;
using Granary.Cluster;
using Granary.Grains.Coordination;
using Granary.Grains.Placement;
using Granary.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Serialization;
using StackExchange.Redis;

namespace Granary.Grains;

/// <summary>
/// One silo: an Orleans silo (Redis clustering, or localhost clustering alone) hosting the pinned rank, session and
/// silo grains and the coordinator, the <see cref="ReplicaHost"/> that holds what this silo runs, and, with the gateway
/// role, the OpenAI API in the same ASP.NET Core host, routing to the deployment's session grains through the grain factory.
/// </summary>
public sealed partial class SiloHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly OpenAiServer? _gatewayServer;
    private readonly ILogger _logger;

    private SiloHost(IHost host, OpenAiServer? gatewayServer, ILogger logger)
    {
        _host = host;
        _gatewayServer = gatewayServer;
        _logger = logger;
        Key = host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString();
    }

    /// <summary>This silo's Orleans address, "host:port@generation".</summary>
    public string Key { get; }

    /// <summary>The gateway's URL, when this silo has the gateway role.</summary>
    public string? GatewayUrl => _gatewayServer?.Urls[0];

    public IServiceProvider Services => _host.Services;

    /// <summary>Cancelled when Orleans stops this silo on its own (the cluster declared it dead): it may rejoin as a new silo.</summary>
    public CancellationToken Stopped => _host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

    /// <summary>
    /// Starts the silo and joins the cluster. A gateway silo is one ASP.NET Core host: Kestrel serving the OpenAI API
    /// and Orleans in the same host, container and lifetime. Throws when Redis cannot be reached or the cluster refuses
    /// the silo.
    /// </summary>
    public static async Task<SiloHost> StartAsync(SiloOptions options, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        Granary.Cluster.ClusterOptions cluster = options.Cluster;
        cluster.Validate();
        var logger = loggers.CreateLogger<SiloHost>();
        var api = options.Gateway ? new ServeOptions
        {
            Host = options.GatewayHost,
            Port = options.GatewayPort,
            ApiKey = options.ApiKey,
            ServedModelName = options.ServedModelName,
            MaxRequestBodyBytes = options.MaxRequestBodyBytes,
        } : null;
        IHostApplicationBuilder builder = api is null ? Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true }) : OpenAiServer.CreateBuilder(api, loggers);
        builder.Logging.ClearProviders().AddProvider(new ForwardingLoggerProvider(loggers));
        // Orleans is verbose at Information; its membership is what an operator wants to see.
        builder.Logging.AddFilter("Orleans", LogLevel.Warning).AddFilter("Orleans.Runtime.MembershipService", LogLevel.Information)
            .AddFilter("Orleans.Runtime.Silo", LogLevel.Error) // its server-GC note does not apply to a silo that runs models on its own threads
            .AddFilter("Polly", LogLevel.Error).AddFilter("Microsoft", LogLevel.Warning); // Orleans' placement retries; the host's banner, Kestrel's and routing's lines per request
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton<IHostLifetime, CallerSignalsLifetime>();
        if (api is null) ServerTelemetry.AddSiloTracing(builder.Services); // a gateway's telemetry traces the silo too
        var redis = cluster.UsesRedis ? await ConnectAsync(cluster.RedisUrl).ConfigureAwait(false) : null;

        int siloPort = cluster.Port == 0 ? FreePort() : cluster.Port;
        int clientPort = cluster.ClientPort == 0 ? FreePort() : cluster.ClientPort;
        builder.UseOrleans(silo =>
        {
            if (redis is not null)
            {
                silo.UseRedisClustering(o =>
                {
                    o.ConfigurationOptions = RedisAddress.Parse(cluster.RedisUrl);
                    o.CreateMultiplexer = _ => Task.FromResult<(IConnectionMultiplexer, bool)>((redis, true));
                });
                // The coordinator's activation is found through Redis, not through a directory partition on some
                // silo: a silo's crash does not deactivate what lived elsewhere (pinned grains use no directory).
                silo.UseRedisGrainDirectoryAsDefault((RedisGrainDirectoryOptions o) =>
                {
                    o.ConfigurationOptions = RedisAddress.Parse(cluster.RedisUrl);
                    o.CreateMultiplexer = _ => Task.FromResult<(IConnectionMultiplexer, bool)>((redis, true));
                });
                silo.Configure<EndpointOptions>(o =>
                {
                    o.AdvertisedIPAddress = AdvertisedAddress(cluster.AdvertisedHost);
                    o.SiloPort = siloPort;
                    o.GatewayPort = clientPort;
                });
            }
            else silo.UseLocalhostClustering(siloPort, clientPort, serviceId: GranaryOrleansOptions.ServiceId, clusterId: cluster.ClusterId);
            silo.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = GranaryOrleansOptions.ServiceId; });
            silo.Configure<Orleans.Configuration.SiloOptions>(o => o.SiloName = cluster.SiloName);
            silo.AddGranaryGrains(cluster, redis is null ? new MemoryClusterStateStore() : new RedisClusterStateStore(redis, cluster.ClusterId));
            if (cluster.Kubernetes) silo.UseKubernetesHosting();
            if (LoadCertificate(cluster) is { } certificate) silo.UseTls(certificate, tls => ClusterTls.Configure(tls, certificate));
        });
        IHost host;
        OpenAiServer? gatewayServer = null;
        if (builder is WebApplicationBuilder web)
        {
            var app = web.Build();
            gatewayServer = OpenAiServer.MapOnto(app, app.Services.GetRequiredService<ModelGateways>().For(options.Deployment), api!, loggers);
            host = app;
        }
        else host = ((HostApplicationBuilder)builder).Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            if (gatewayServer is not null) host.Services.GetRequiredService<SiloRoles>().GatewayUrl = gatewayServer.Urls[0];
            var silo = new SiloHost(host, gatewayServer, logger);
            silo.LogStarted(silo.Key, cluster.SiloName, cluster.UsesRedis ? cluster.RedisUrl : "localhost clustering (alone)", string.Join(',', cluster.Devices), gatewayServer?.Urls[0] ?? "no gateway");
            return silo;
        }
        catch (Exception e)
        {
            try
            {
                await StopAsync(host, gatewayServer).ConfigureAwait(false);
            }
            catch (InvalidOperationException) { } // Orleans refuses to stop a silo that never ran; the start's failure is the one to report
            if (e is Microsoft.AspNetCore.Connections.AddressInUseException)
                throw new IOException($"a port of this silo is in use (silo {siloPort}, Orleans clients {clientPort}{(api is null ? "" : $", gateway {api.Port}")}): {e.Message}; pick others with --port, --client-port, --gateway-port", e);
            throw;
        }
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(string url)
    {
        var configuration = RedisAddress.Parse(url);
        configuration.AbortOnConnectFail = true; // at start, an unreachable Redis is the user's error to see
        try
        {
            var redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
            return redis;
        }
        catch (RedisConnectionException e)
        {
            throw new IOException($"cannot reach the cluster store {url}: {e.Message}", e);
        }
    }

    private static X509Certificate2? LoadCertificate(Granary.Cluster.ClusterOptions cluster) => cluster.CertificatePath is { Length: > 0 } path
        ? X509CertificateLoader.LoadPkcs12FromFile(path, cluster.CertificatePassword, X509KeyStorageFlags.Exportable)
        : null;

    private static IPAddress AdvertisedAddress(string host) => IPAddress.TryParse(host, out var address) ? address
        : Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
          ?? throw new ArgumentException($"--host {host} does not resolve to an IPv4 address");

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    /// <summary>Leaves the cluster (its replicas are placed elsewhere) and stops every role.</summary>
    public async ValueTask DisposeAsync()
    {
        LogStopping(Key);
        await StopAsync(_host, _gatewayServer).ConfigureAwait(false);
    }

    private static async Task StopAsync(IHost host, OpenAiServer? gatewayServer)
    {
        // The gateway first: running requests get their grace while the replicas they run on still serve.
        if (gatewayServer is not null) await gatewayServer.StopListeningAsync().ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await host.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or OrleansException) { }
        await host.Services.GetRequiredService<ReplicaHost>().DisposeAsync().ConfigureAwait(false);
        if (host is IAsyncDisposable asyncHost) await asyncHost.DisposeAsync().ConfigureAwait(false); // disposes the model gateways
        else host.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo} ({Name}) joined the cluster on {Store} with devices {Devices}; {Gateway}")]
    private partial void LogStarted(string silo, string name, string store, string devices, string gateway);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo} is leaving the cluster")]
    private partial void LogStopping(string silo);
}

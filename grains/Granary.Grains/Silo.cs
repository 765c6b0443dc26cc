using Granary.Cluster;
using Granary.Cluster.Activations;
using Granary.Cluster.Membership;
using Granary.Cluster.Placement;
using Granary.Cluster.Transport;
using Granary.Redis;
using Granary.Engine;
using Granary.Serving;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// One silo of a cluster: its transport endpoint (grain calls from other silos), its membership (heartbeats,
/// probes, death votes), the coordinator it runs for the lease, the replica host that activates what the
/// placement gives it, and, with the gateway role, the OpenAI server routing to the deployment's replicas.
/// </summary>
public sealed partial class Silo : IAsyncDisposable
{
    private readonly RedisClient _redis;
    private readonly SiloEndpoint _endpoint;
    private readonly SiloClient _client;
    private readonly MembershipAgent _agent;
    private readonly Coordinator _coordinator;
    private readonly ReplicaHost _host;
    private readonly OpenAiServer? _gatewayServer;
    private readonly ILogger _logger;

    private Silo(RedisClient redis, SiloEndpoint endpoint, SiloClient client, MembershipAgent agent, Coordinator coordinator, ReplicaHost host, OpenAiServer? gatewayServer, ILogger logger)
    {
        _redis = redis;
        _endpoint = endpoint;
        _client = client;
        _agent = agent;
        _coordinator = coordinator;
        _host = host;
        _gatewayServer = gatewayServer;
        _logger = logger;
    }

    /// <summary>This silo's row in the membership table.</summary>
    public SiloRow Self => _agent.Self;

    /// <summary>The gateway's URL, when this silo has the gateway role.</summary>
    public string? GatewayUrl => _gatewayServer?.Urls[0];

    /// <summary>Cancelled once the cluster declared this silo dead: it must stop, and may rejoin as a new silo.</summary>
    public CancellationToken Dead => _agent.Dead;

    public ReplicaHost Replicas => _host;

    /// <summary>Joins the cluster and starts every role. Throws when Redis cannot be reached or the cluster refuses the silo.</summary>
    public static async Task<Silo> StartAsync(SiloOptions options, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        var cluster = options.Cluster;
        cluster.Validate();
        var logger = loggers.CreateLogger<Silo>();
        if (cluster.Secret.Length == 0) LogNoSecret(logger, cluster.Port);
        RedisClient redis;
        try
        {
            redis = await RedisClient.ConnectAsync(cluster.RedisUrl, loggers.CreateLogger<RedisClient>(), cancellationToken).ConfigureAwait(false);
        }
        catch (RedisException e)
        {
            throw new IOException($"cannot reach the cluster store {cluster.RedisUrl}: {e.Message}", e);
        }
        var endpoint = new SiloEndpoint(cluster, siloKey: "", loggers);
        var client = new SiloClient(cluster);
        var agent = new MembershipAgent(redis, cluster, new HttpSiloProber(client, cluster), loggers.CreateLogger<MembershipAgent>());
        var host = new ReplicaHost(redis, cluster, () => agent.Self, () => agent.Current, client, loggers);
        Coordinator? coordinator = null;
        OpenAiServer? gatewayServer = null;
        ClusterGateway? gateway = null;
        try
        {
            endpoint.MapStream(GrainIds.SessionType, GrainIds.GenerateMethod, (key, body, ct) => ClusterGateway.ServeSessionAsync(host, key, body, ct));
            endpoint.Map(GrainIds.ReplicaType, GrainIds.ActivateMethod, host.ActivatePartAsync);
            endpoint.Map(GrainIds.ReplicaType, GrainIds.KvCacheMethod, host.AllocateKvCache);
            endpoint.Map(GrainIds.ReplicaType, GrainIds.StepMethod, host.Step);
            await endpoint.StartAsync(cancellationToken).ConfigureAwait(false);
            if (options.Gateway)
            {
                gateway = new ClusterGateway(options.Deployment, redis, cluster, () => agent.Current, () => agent.Self, host, client, loggers);
                gatewayServer = OpenAiServer.Create(gateway, new ServeOptions { Host = options.GatewayHost, Port = options.GatewayPort, ApiKey = options.ApiKey }, loggers);
                await gatewayServer.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            var self = await agent.JoinAsync(new SiloRow
            {
                Key = "",
                Name = cluster.SiloName,
                Host = cluster.AdvertisedHost,
                Port = endpoint.Port,
                Generation = 0,
                Devices = cluster.Devices,
                Roles = options.Gateway ? ["gateway"] : [],
                GatewayUrl = gatewayServer?.Urls[0],
                RankPortBase = cluster.RankPortBase,
            }, cancellationToken).ConfigureAwait(false);
            endpoint.SiloKey = self.Key;
            coordinator = new Coordinator(redis, cluster, self.Key, () => agent.Current, loggers.CreateLogger<Coordinator>());
            coordinator.Start();
            host.Start();
            gateway?.Start();
            var silo = new Silo(redis, endpoint, client, agent, coordinator, host, gatewayServer, logger);
            silo.LogStarted(self.Key, string.Join(',', cluster.Devices), gatewayServer?.Urls[0] ?? "no gateway");
            return silo;
        }
        catch
        {
            if (gatewayServer is not null) await gatewayServer.DisposeAsync().ConfigureAwait(false);
            if (coordinator is not null) await coordinator.DisposeAsync().ConfigureAwait(false);
            await agent.DisposeAsync().ConfigureAwait(false);
            await host.DisposeAsync().ConfigureAwait(false);
            await endpoint.DisposeAsync().ConfigureAwait(false);
            client.Dispose();
            await redis.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Leaves the cluster (its replicas are placed elsewhere) and stops every role.</summary>
    public async ValueTask DisposeAsync()
    {
        LogStopping(_agent.Self.Key);
        if (_gatewayServer is not null) await _gatewayServer.DisposeAsync().ConfigureAwait(false);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await _agent.LeaveAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or IOException or OperationCanceledException or InvalidOperationException) { }
        }
        await _coordinator.DisposeAsync().ConfigureAwait(false);
        await _host.DisposeAsync().ConfigureAwait(false);
        await _agent.DisposeAsync().ConfigureAwait(false);
        await _endpoint.DisposeAsync().ConfigureAwait(false);
        _client.Dispose();
        await _redis.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo} joined the cluster with devices {Devices}; {Gateway}")]
    private partial void LogStarted(string silo, string devices, string gateway);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No cluster secret (GRANARY_CLUSTER_SECRET) is set: anyone who reaches this silo's port {Port} can call its grains; set the same secret on every silo outside a test machine")]
    private static partial void LogNoSecret(ILogger logger, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {Silo} is leaving the cluster")]
    private partial void LogStopping(string silo);
}

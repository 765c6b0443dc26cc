using Granary.Cluster.Membership;
using Granary.Redis;

namespace Granary.Cluster.Tests;

/// <summary>
/// A test's own redis-server with the silos (each with its own Redis client, as separate processes would have)
/// and an observer that reads the table directly. Disposes the agents, then the clients, then the server.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private readonly List<MembershipAgent> _agents = [];
    private readonly List<RedisClient> _clients = [];
    private RedisClient? _observer;
    private int _nextPort = 21000;

    private TestCluster(RedisServerProcess server) => Server = server;

    public RedisServerProcess Server { get; }

    /// <summary>The network every agent of this cluster probes through.</summary>
    public FakeProber Prober { get; } = new();

    /// <summary>Starts the server, persistence off unless <paramref name="serverArgs"/> turn it on.</summary>
    public static async Task<TestCluster> StartAsync(params string[] serverArgs) => new(await RedisServerProcess.StartNewAsync(serverArgs));

    public RedisOptions RedisOptions() => new()
    {
        Host = "127.0.0.1",
        Port = Server.Port,
        ConnectTimeout = TimeSpan.FromSeconds(3),
        CommandTimeout = TimeSpan.FromSeconds(5),
        ReconnectBackoffMin = TimeSpan.FromMilliseconds(20),
        ReconnectBackoffMax = TimeSpan.FromMilliseconds(250),
    };

    /// <summary>Short intervals so that the suite stays fast: death by votes in about half a second, by timeout in 2 s.</summary>
    public ClusterOptions Options(string clusterId = "granary", string secret = "test-secret") => new()
    {
        RedisUrl = Server.Url,
        ClusterId = clusterId,
        Secret = secret,
        HeartbeatInterval = TimeSpan.FromMilliseconds(100),
        RefreshInterval = TimeSpan.FromMilliseconds(100),
        ProbeInterval = TimeSpan.FromMilliseconds(100),
        ProbeTimeout = TimeSpan.FromMilliseconds(200),
        MissedProbesLimit = 3,
        VotesForDeath = 2,
        DeathVoteExpiration = TimeSpan.FromSeconds(10),
        DeathTimeout = TimeSpan.FromSeconds(2),
    };

    public SiloRow Template(string name, int? port = null) => new()
    {
        Key = "",
        Name = name,
        Host = "127.0.0.1",
        Port = port ?? Interlocked.Increment(ref _nextPort),
        Generation = 0,
        Devices = ["cpu:0", "cpu:1"],
        Roles = ["gateway"],
        GatewayUrl = "http://127.0.0.1:8000",
        RankPortBase = 12000,
    };

    /// <summary>An agent with a Redis client of its own, not joined yet.</summary>
    public async Task<MembershipAgent> CreateAgentAsync(ClusterOptions? options = null, ListLogger<MembershipAgent>? logger = null)
    {
        var client = await RedisClient.ConnectAsync(RedisOptions());
        _clients.Add(client);
        var agent = new MembershipAgent(client, options ?? Options(), Prober, logger);
        _agents.Add(agent);
        return agent;
    }

    /// <summary>An agent joined as silo <paramref name="name"/>.</summary>
    public async Task<MembershipAgent> JoinAsync(string name, ClusterOptions? options = null, ListLogger<MembershipAgent>? logger = null, int? port = null)
    {
        var agent = await CreateAgentAsync(options, logger);
        await agent.JoinAsync(Template(name, port), CancellationToken.None);
        return agent;
    }

    /// <summary>The test's own Redis client (not an agent's).</summary>
    public async Task<RedisClient> ObserverAsync()
    {
        if (_observer is null)
        {
            _observer = await RedisClient.ConnectAsync(RedisOptions());
            _clients.Add(_observer);
        }
        return _observer;
    }

    /// <summary>The table as the test sees it, through the observer client.</summary>
    public async Task<MembershipTable> TableAsync(string clusterId = "granary") => new(await ObserverAsync(), new ClusterKeys(clusterId));

    public async Task<MembershipSnapshot> ReadAsync(string clusterId = "granary") => await (await TableAsync(clusterId)).ReadAsync();

    /// <summary>The status of <paramref name="siloKey"/> in the table, null when it has no row (or Redis is down).</summary>
    public async Task<SiloStatus?> StatusAsync(string siloKey, string clusterId = "granary")
    {
        try
        {
            return (await ReadAsync(clusterId)).Find(siloKey)?.Status;
        }
        catch (RedisException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents) await agent.DisposeAsync();
        foreach (var client in _clients) await client.DisposeAsync();
        await Server.DisposeAsync();
    }
}

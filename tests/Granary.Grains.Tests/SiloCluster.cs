using System.Net.Http.Json;
using System.Text.Json;
using Granary.Cluster;
using Granary.Redis;
using Granary.Tests.Shared;

namespace Granary.Grains.Tests;

/// <summary>
/// A real cluster on loopback: a redis-server of the test's own and <c>granary silo</c> processes (killed and restarted
/// by the tests), with short membership timings so that deaths are seen within seconds.
/// </summary>
internal sealed class SiloCluster : IAsyncDisposable
{
    /// <summary>The death timeout the silos run with: the bound on detecting a dead silo.</summary>
    public static readonly TimeSpan DeathTimeout = TimeSpan.FromSeconds(4);

    private readonly Dictionary<string, ChildProcess> _silos = [];
    private readonly string _secret;

    private SiloCluster(RedisServerProcess redis, string clusterId, string secret)
    {
        Redis = redis;
        ClusterId = clusterId;
        _secret = secret;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
    }

    public RedisServerProcess Redis { get; }
    public string ClusterId { get; }
    public HttpClient Http { get; }

    public static async Task<SiloCluster> StartAsync(string clusterId = "test", string secret = "s3cret") =>
        new(await RedisServerProcess.StartNewAsync(), clusterId, secret);

    /// <summary>Environment of a silo process: the secret and fast membership timings.</summary>
    public Dictionary<string, string?> Environment(string? secret = null) => new()
    {
        ["GRANARY_CLUSTER_SECRET"] = secret ?? _secret,
        ["GRANARY_Cluster__HeartbeatInterval"] = "00:00:00.250",
        ["GRANARY_Cluster__RefreshInterval"] = "00:00:00.250",
        ["GRANARY_Cluster__ProbeInterval"] = "00:00:00.250",
        ["GRANARY_Cluster__ProbeTimeout"] = "00:00:00.500",
        ["GRANARY_Cluster__DeathTimeout"] = DeathTimeout.ToString("c"),
        ["GRANARY_Cluster__CoordinatorLease"] = "00:00:02",
        ["GRANARY_Cluster__ReconcileInterval"] = "00:00:00.250",
    };

    /// <summary>Starts a silo with <paramref name="devices"/>; the first with <paramref name="gateway"/> serves the API.</summary>
    /// <param name="threads">CPU threads of the silo's ranks: silos sharing this machine's cores must not take all of them each.</param>
    public ChildProcess StartSilo(string name, string devices = "cpu:0,cpu:1", bool gateway = false, string? clusterId = null, string? secret = null, int threads = 2)
    {
        var args = new List<string>
        {
            "silo", "--cluster", Redis.Url, "--cluster-id", clusterId ?? ClusterId, "--name", name, "--port", "0", "--devices", devices, "--threads", threads.ToString(),
            "--rank-port-base", RedisServerProcess.FreePort().ToString(),
        };
        if (gateway) args.AddRange(["--gateway", "--gateway-port", "0"]);
        var process = new ChildProcess(args, Environment(secret));
        _silos[name] = process;
        return process;
    }

    public ChildProcess Silo(string name) => _silos[name];

    /// <summary>kill -9: no goodbye to the cluster.</summary>
    public void Kill(string name) => _silos[name].Process.Kill(entireProcessTree: true);

    public async Task<RedisClient> ConnectAsync() => await RedisClient.ConnectAsync(Redis.Url);

    public async Task<ClusterStatus> StatusAsync()
    {
        await using var redis = await ConnectAsync();
        return await ClusterStatusReader.ReadAsync(redis, ClusterId);
    }

    /// <summary>Runs the granary CLI to its end; returns the exit code and output.</summary>
    public async Task<(int Code, string Stdout, string Stderr)> CliAsync(params string[] args)
    {
        using var cli = new ChildProcess(args, Environment());
        int code = await cli.WaitForExitAsync(120);
        return (code, cli.Stdout, cli.Stderr);
    }

    public Task<(int Code, string Stdout, string Stderr)> DeployAsync(params string[] args) =>
        CliAsync(["deploy", "--cluster", Redis.Url, "--cluster-id", ClusterId, "--model", TestPaths.Stories15M, "--kv-cache-mib", "16", "--max-num-seqs", "16", .. args]);

    /// <summary>Waits until the status satisfies <paramref name="condition"/> (the silo logs go into the failure message).</summary>
    public async Task<ClusterStatus> WaitForAsync(Func<ClusterStatus, bool> condition, string what, int timeoutSeconds = 60)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ClusterStatus? status = null;
        while (clock.Elapsed.TotalSeconds < timeoutSeconds)
        {
            try
            {
                status = await StatusAsync();
                if (condition(status)) return status;
            }
            catch (RedisException) { } // Redis restarting
            await Task.Delay(200);
        }
        throw new Xunit.Sdk.XunitException($"timed out after {timeoutSeconds} s waiting for {what}\nlast status: {(status is null ? "none" : JsonSerializer.Serialize(status, ClusterJson.Default.ClusterStatus))}\n{Logs()}");
    }

    /// <summary>The gateway's base URL (from its row).</summary>
    public async Task<Uri> GatewayAsync()
    {
        var status = await WaitForAsync(s => s.Silos.Any(r => r.Row.GatewayUrl is not null), "a gateway");
        return new Uri(status.Silos.First(r => r.Row.GatewayUrl is not null && r.Row.Status == Granary.Cluster.Membership.SiloStatus.Active).Row.GatewayUrl!);
    }

    public string Logs() => string.Join("\n", _silos.Select(s => $"--- silo {s.Key} (stderr):\n{Tail(s.Value.Stderr)}"));

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        foreach (var silo in _silos.Values) silo.Dispose();
        await Redis.DisposeAsync();
    }
}

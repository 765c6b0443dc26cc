using System.Net.Http.Json;
using System.Text.Json;
using Granary.Cluster;
using Granary.Tests.Shared;

namespace Granary.Grains.Tests;

/// <summary>
/// A real cluster on loopback: a redis-server of the test's own (with its append-only file, as a cluster store must
/// run) and <c>granary silo</c> processes (killed and restarted by the tests), with the silos' default membership
/// timings; the test process reads the cluster's status as an Orleans client.
/// </summary>
internal sealed class SiloCluster : IAsyncDisposable
{
    /// <summary>The bound the issue sets on declaring a killed silo dead.</summary>
    public static readonly TimeSpan DeathTimeout = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, ChildProcess> _silos = [];
    private readonly string? _certificate;
    private ClusterConnection? _connection;

    private SiloCluster(RedisServerProcess redis, string clusterId, string? certificate)
    {
        Redis = redis;
        ClusterId = clusterId;
        _certificate = certificate;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
    }

    public RedisServerProcess Redis { get; }
    public string ClusterId { get; }
    public HttpClient Http { get; }

    /// <param name="certificate">PFX of the cluster's certificate (mutual TLS), or null for plain TCP.</param>
    public static async Task<SiloCluster> StartAsync(string clusterId = "test", string? certificate = null) =>
        new(await RedisServerProcess.StartNewAsync("--appendonly", "yes", "--appendfsync", "always", "--appendfilename", $"granary-{Guid.NewGuid():N}.aof"), clusterId, certificate);

    /// <summary>Environment of a silo or CLI process: the cluster's certificate, if any.</summary>
    public Dictionary<string, string?> Environment(string? certificate = null) => new()
    {
        ["GRANARY_CLUSTER_CERTIFICATE"] = certificate ?? _certificate,
        ["GRANARY_Cluster__ReconcileInterval"] = "00:00:00.500",
        // Three silos loading models on CI's 2 cores can leave a probe unanswered for 2 s: once a silo was declared
        // dead that way. A third missed probe (about 1 s more to detect a kill) keeps the tests about real failures.
        ["GRANARY_Cluster__MissedProbesLimit"] = "3",
    };

    /// <summary>Starts a silo with <paramref name="devices"/>; the first with <paramref name="gateway"/> serves the API.</summary>
    /// <param name="threads">CPU threads of the silo's ranks: silos sharing this machine's cores must not take all of them each.</param>
    public ChildProcess StartSilo(string name, string devices = "cpu:0,cpu:1", bool gateway = false, string? clusterId = null, string? certificate = null, int threads = 2)
    {
        var args = new List<string>
        {
            "silo", "--cluster", Redis.Url, "--cluster-id", clusterId ?? ClusterId, "--name", name, "--port", "0", "--client-port", "0", "--devices", devices, "--threads", threads.ToString(),
            "--rank-port-base", RedisServerProcess.FreePort().ToString(),
        };
        if (gateway) args.AddRange(["--gateway", "--gateway-port", "0"]);
        var process = new ChildProcess(args, Environment(certificate));
        _silos[name] = process;
        return process;
    }

    public ChildProcess Silo(string name) => _silos[name];

    /// <summary>kill -9: no goodbye to the cluster.</summary>
    public void Kill(string name) => _silos[name].Process.Kill(entireProcessTree: true);

    /// <summary>The cluster's status, read through an Orleans client of the test's own (made again after a failure).</summary>
    public async Task<ClusterStatus> StatusAsync()
    {
        _connection ??= await ClusterConnection.ConnectAsync(Redis.Url, ClusterId, _certificate, responseTimeout: TimeSpan.FromSeconds(5));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            return await ClusterStatusReader.ReadAsync(_connection.Client, ClusterId, timeout.Token);
        }
        catch
        {
            var broken = _connection;
            _connection = null;
            await broken.DisposeAsync();
            throw;
        }
    }

    /// <summary>The key (Orleans address) of the active silo named <paramref name="name"/>.</summary>
    public static string KeyOf(ClusterStatus status, string name) =>
        status.Silos.Last(s => s.Row.Name == name).Row.Key;

    /// <summary>The name of the silo whose key is <paramref name="key"/>.</summary>
    public static string NameOf(ClusterStatus status, string key) => status.Silos.First(s => s.Row.Key == key).Row.Name;

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
            catch (Exception e) when (e is IOException or TimeoutException or OperationCanceledException or Orleans.Runtime.OrleansException) { } // Redis or a silo restarting
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
        if (_connection is not null) await _connection.DisposeAsync();
        Http.Dispose();
        foreach (var silo in _silos.Values) silo.Dispose();
        await Redis.DisposeAsync();
    }
}

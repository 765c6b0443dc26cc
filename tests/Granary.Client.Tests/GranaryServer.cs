using System.Text.RegularExpressions;
using Granary.Tests.Shared;

namespace Granary.Client.Tests;

/// <summary>
/// <c>granary serve</c> as a real process on a free loopback port (port 0: the server picks one and logs it),
/// killed on dispose.
/// </summary>
public sealed partial class GranaryServer : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly HttpClient _http;

    private GranaryServer(ChildProcess process, Uri baseUrl, string? apiKey)
    {
        _process = process;
        BaseUrl = baseUrl;
        ApiKey = apiKey;
        _http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseUrl { get; }

    public string? ApiKey { get; }

    /// <summary>The server's log so far (stderr), for failure messages.</summary>
    public string Log => _process.Stderr;

    public static async Task<GranaryServer> StartAsync(string model, string? apiKey = null, params string[] extra)
    {
        var args = new List<string> { "serve", "--model", model, "--port", "0", "--kv-cache-mib", "64" };
        if (apiKey is not null) args.AddRange(["--api-key", apiKey]);
        args.AddRange(extra);
        var process = new ChildProcess(args);
        try
        {
            await process.WaitForAsync((_, err) => Listening().IsMatch(err), "the server to listen", timeoutSeconds: 60);
            var url = new Uri(Listening().Match(process.Stderr).Groups[1].Value);
            return new GranaryServer(process, url, apiKey);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>The value of a metric of the server's model, e.g. granary_num_requests_running.</summary>
    public async Task<double> MetricAsync(string name) => PrometheusText.Metric(await _http.GetStringAsync("/metrics"), name);

    /// <summary>granary_requests_total for one endpoint and status (0 when none was counted yet).</summary>
    public async Task<double> RequestsAsync(string endpoint, int status)
    {
        string metrics = await _http.GetStringAsync("/metrics");
        return PrometheusText.TryMetric(metrics, "granary_requests_total", $"endpoint=\"{endpoint}\"", $"status=\"{status}\"") ?? 0;
    }

    /// <summary>Polls until the condition holds (the server acts asynchronously); fails after a generous timeout.</summary>
    public async Task EventuallyAsync(Func<Task<bool>> condition, string what, int timeoutSeconds = 20)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed.TotalSeconds > timeoutSeconds) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}\nserver log:\n{Log}");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        _process.Dispose();
        await Task.CompletedTask;
    }

    [GeneratedRegex(@"Serving \S+ on (http://[^;,\s]+)")]
    private static partial Regex Listening();
}

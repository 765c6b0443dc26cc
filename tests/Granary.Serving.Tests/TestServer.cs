using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Granary.Engine;
using Granary.Tests.Shared;

namespace Granary.Serving.Tests;

/// <summary>A model loaded once and served on a free loopback port for a test class or collection.</summary>
public abstract class TestServer : IAsyncLifetime
{
    public LocalModel Model { get; private set; } = null!;
    public OpenAiServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public string BaseUrl { get; private set; } = "";

    protected abstract string ModelDirectory { get; }
    protected virtual EngineOptions EngineOptions => new() { KvCacheBytes = 64 << 20, MaxSequences = 16, MaxBatchedTokens = 256 };
    protected virtual ServeOptions ServeOptions => new() { Port = 0 };

    public async ValueTask InitializeAsync()
    {
        Model = LocalModel.Load(ModelDirectory, new LocalModelOptions { Engine = EngineOptions });
        var options = ServeOptions;
        Server = OpenAiServer.Create(Model, options);
        await Server.StartAsync();
        BaseUrl = Server.Urls[0];
        Http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        if (options.ApiKey is { } key) Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Model.Dispose();
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, CancellationToken cancellationToken = default) =>
        Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"), cancellationToken);

    public async Task<(int Status, JsonElement Body)> PostJsonAsync(string path, string json)
    {
        using var response = await PostAsync(path, json);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>Posts a streaming request and returns the JSON of each data event, and whether [DONE] ended the stream.</summary>
    public async Task<(List<JsonElement> Events, bool Done)> StreamAsync(string path, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<JsonElement>();
        bool done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            Assert.False(done, "nothing may follow [DONE]");
            if (line == "data: [DONE]") done = true;
            else events.Add(JsonDocument.Parse(line[6..]).RootElement.Clone());
        }
        return (events, done);
    }

    /// <summary>The label of this server's series (other servers of the test process publish on the same meter).</summary>
    public string ModelLabel => $"model_name=\"{Server.Service.Metrics.ModelName}\"";

    public async Task<string> MetricsAsync() => await Http.GetStringAsync("/metrics");

    public static double Metric(string metrics, string name, params string[] labels) => PrometheusText.Metric(metrics, name, labels);

    public static double? TryMetric(string metrics, string name, params string[] labels) => PrometheusText.TryMetric(metrics, name, labels);

    /// <summary>Polls until the condition holds (the engine thread acts asynchronously), failing after a timeout.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int timeoutMs = 10000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.ElapsedMilliseconds > timeoutMs) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}

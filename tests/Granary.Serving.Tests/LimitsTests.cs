using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Granary.Serving.Tests;

/// <summary>401 without the API key, 429 with Retry-After when the waiting queue is full.</summary>
public sealed class LimitsTests(LimitedServer server) : IClassFixture<LimitedServer>
{
    [Fact]
    public async Task ApiKeyIsRequiredOnV1()
    {
        using var client = new HttpClient { BaseAddress = new Uri(server.BaseUrl) };
        using var missing = await client.GetAsync("/v1/models");
        Assert.Equal(401, (int)missing.StatusCode);
        var error = JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        Assert.Equal(401, (int)(await client.PostAsync("/v1/completions", new StringContent("{}"))).StatusCode);
        Assert.Equal(200, (int)(await client.GetAsync("/health")).StatusCode);
        Assert.Equal(200, (int)(await server.Http.GetAsync("/v1/models")).StatusCode);
    }

    [Fact]
    public async Task FullQueueGets429WithRetryAfter()
    {
        const string longRequest = """{"prompt":"Once upon a time","max_tokens":200,"temperature":0,"ignore_eos":true,"stream":true}""";
        using var cancel = new CancellationTokenSource();
        var running = Open(longRequest, cancel.Token);
        await TestServer.EventuallyAsync(async () => TestServer.Metric(await server.MetricsAsync(), "granary_num_requests_running") == 1, "the first request to run");
        var waiting = Open(longRequest, cancel.Token);
        await TestServer.EventuallyAsync(async () => TestServer.Metric(await server.MetricsAsync(), "granary_num_requests_waiting") == 1, "the second request to wait");

        var (status, body) = await server.PostJsonAsync("/v1/completions", """{"prompt":"Hello","max_tokens":2}""");
        Assert.Equal(429, status);
        Assert.Equal("rate_limit_error", body.GetProperty("error").GetProperty("type").GetString());
        using (var response = await server.PostAsync("/v1/completions", """{"prompt":"Hello","max_tokens":2}"""))
        {
            Assert.Equal(429, (int)response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
        }

        cancel.Cancel();
        await Task.WhenAll(running.ContinueWith(_ => { }), waiting.ContinueWith(_ => { }));
        await TestServer.EventuallyAsync(async () =>
        {
            string metrics = await server.MetricsAsync();
            return TestServer.Metric(metrics, "granary_num_requests_waiting") == 0 && TestServer.Metric(metrics, "granary_kv_cache_used_blocks") == 0;
        }, "the queue to drain");
        var (after, _) = await server.PostJsonAsync("/v1/completions", """{"prompt":"Hello","max_tokens":2}""");
        Assert.Equal(200, after);
    }

    private async Task Open(string body, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await response.Content.ReadAsStringAsync(cancellationToken);
    }
}

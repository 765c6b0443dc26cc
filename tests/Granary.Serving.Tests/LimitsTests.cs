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
        // One request with n=2 on a server that runs one sequence at a time: its second choice waits while the
        // first generates, which fills the waiting queue (bound 1) for a whole 200-token answer. A machine so
        // slow or so busy that the answer ends before the probes arrive makes the attempt start over.
        const string twoChoices = """{"prompt":"Once upon a time","max_tokens":200,"temperature":0,"ignore_eos":true,"stream":true,"n":2}""";
        for (int attempt = 1; ; attempt++)
        {
            using var cancel = new CancellationTokenSource();
            var busy = Open(twoChoices, cancel.Token);
            await TestServer.EventuallyAsync(async () =>
            {
                string metrics = await server.MetricsAsync();
                return TestServer.Metric(metrics, "granary_num_requests_running", server.ModelLabel) == 1 && TestServer.Metric(metrics, "granary_num_requests_waiting", server.ModelLabel) == 1;
            }, "one choice to run and the other to wait");

            var (status, body) = await server.PostJsonAsync("/v1/completions", """{"prompt":"Hello","max_tokens":2}""");
            using var response = await server.PostAsync("/v1/completions", """{"prompt":"Hello","max_tokens":2}""");
            bool stillBusy = !busy.IsCompleted;
            cancel.Cancel();
            await busy.ContinueWith(_ => { });
            await TestServer.EventuallyAsync(async () =>
            {
                string metrics = await server.MetricsAsync();
                return TestServer.Metric(metrics, "granary_num_requests_waiting", server.ModelLabel) == 0 && TestServer.Metric(metrics, "granary_kv_cache_used_blocks", server.ModelLabel) == 0;
            }, "the queue to drain");
            if ((status != 429 || (int)response.StatusCode != 429) && !stillBusy && attempt < 5) continue;

            Assert.Equal(429, status);
            Assert.Equal("rate_limit_error", body.GetProperty("error").GetProperty("type").GetString());
            Assert.Equal(429, (int)response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
            break;
        }
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

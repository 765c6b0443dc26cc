using System.Text;

namespace Granary.Serving.Tests;

/// <summary>/metrics in Prometheus text from OpenTelemetry: vLLM's serving metrics under granary_ names with a model_name label, plus ASP.NET Core's and the runtime's.</summary>
public sealed class MetricsTests(MetricsServer server) : IClassFixture<MetricsServer>
{
    private const string Model = $"model_name=\"{MetricsServer.Name}\"";
    private const int Tokens = 40;

    [Fact]
    public async Task AStreamingRequestShowsAsRunningAndThenInTheLatencies()
    {
        string before = await server.MetricsAsync();
        double ttft = TestServer.TryMetric(before, "granary_time_to_first_token_seconds_count", Model) ?? 0;
        double e2e = TestServer.TryMetric(before, "granary_e2e_request_latency_seconds_count", Model) ?? 0;
        double tpot = TestServer.TryMetric(before, "granary_time_per_output_token_seconds_count", Model) ?? 0;
        double generated = TestServer.TryMetric(before, "granary_generation_tokens_total", Model) ?? 0;
        double prompt = TestServer.TryMetric(before, "granary_prompt_tokens_total", Model) ?? 0;
        Assert.Equal(0, TestServer.Metric(before, "granary_num_requests_running", Model));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent($$"""{"prompt":"Once upon a time","max_tokens":{{Tokens}},"temperature":0,"ignore_eos":true,"stream":true}""", Encoding.UTF8, "application/json"),
        };
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());

        // Mid-stream: the request runs and holds KV blocks.
        string during = await server.MetricsAsync();
        Assert.Equal(1, TestServer.Metric(during, "granary_num_requests_running", Model));
        Assert.Equal(0, TestServer.Metric(during, "granary_num_requests_waiting", Model));
        Assert.True(TestServer.Metric(during, "granary_kv_cache_used_blocks", Model) > 0);
        Assert.InRange(TestServer.Metric(during, "granary_kv_cache_usage_perc", Model), 1e-9, 1);

        await reader.ReadToEndAsync();
        string after = "";
        await TestServer.EventuallyAsync(async () =>
        {
            after = await server.MetricsAsync();
            return TestServer.Metric(after, "granary_num_requests_running", Model) == 0;
        }, "the request to finish");
        Assert.Equal(ttft + 1, TestServer.Metric(after, "granary_time_to_first_token_seconds_count", Model));
        Assert.Equal(ttft + 1, TestServer.Metric(after, "granary_time_to_first_token_seconds_bucket", Model, "le=\"+Inf\""));
        Assert.True(TestServer.Metric(after, "granary_time_to_first_token_seconds_sum", Model) > 0);
        Assert.Equal(e2e + 1, TestServer.Metric(after, "granary_e2e_request_latency_seconds_count", Model));
        Assert.Equal(tpot + Tokens - 1, TestServer.Metric(after, "granary_time_per_output_token_seconds_count", Model));
        Assert.Equal(generated + Tokens, TestServer.Metric(after, "granary_generation_tokens_total", Model));
        Assert.Equal(prompt + server.Model.Tokenizer.Encode("Once upon a time").Length, TestServer.Metric(after, "granary_prompt_tokens_total", Model));
        Assert.Equal(0, TestServer.Metric(after, "granary_kv_cache_used_blocks", Model));
        Assert.True(TestServer.Metric(after, "granary_requests_total", Model, "endpoint=\"completions\"", "status=\"200\"") >= 1);
        foreach (string name in new[] { "granary_prefix_cache_hits_total", "granary_prefix_cache_queries_total", "granary_num_preemptions_total", "granary_aborted_sequences_total", "granary_kv_cache_total_blocks" })
            TestServer.Metric(after, name, Model);
    }

    [Fact]
    public async Task AspNetCoreAndRuntimeMetersComeAlong()
    {
        await server.Http.GetAsync("/v1/models");
        // ASP.NET Core records a request's duration once its response is written, which the client may see first.
        string metrics = await server.MetricsAsync();
        for (int i = 0; i < 50 && !metrics.Contains("http_route=\"/v1/models\""); i++)
        {
            await Task.Delay(100);
            metrics = await server.MetricsAsync();
        }
        Assert.True(TestServer.Metric(metrics, "http_server_request_duration_seconds_count", "http_route=\"/v1/models\"") >= 1);
        Assert.Contains("\ndotnet_gc_", metrics);
        Assert.Contains("# TYPE granary_num_requests_running gauge", metrics);
    }
}

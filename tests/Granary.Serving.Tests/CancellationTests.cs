using System.Text;

namespace Granary.Serving.Tests;

/// <summary>A client that goes away cancels its request: the engine aborts it and frees its KV blocks.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class CancellationTests(Stories15MServer server)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DisconnectAbortsAndFreesBlocks(bool stream)
    {
        double abortedBefore = TestServer.Metric(await server.MetricsAsync(), "granary_aborted_sequences_total", server.ModelLabel);
        // No draining: a disposed response must close the connection the way a client that goes away does,
        // not read the rest of the answer in the background (HttpClient drains up to 1 MiB by default).
        using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = new Uri(server.BaseUrl) };
        using var cancel = new CancellationTokenSource();
        string body = $$"""{"prompt":"Once upon a time","max_tokens":230,"temperature":0,"ignore_eos":true,"n":8,"stream":{{(stream ? "true" : "false")}}}""";
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        var sending = client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        await TestServer.EventuallyAsync(async () => TestServer.Metric(await server.MetricsAsync(), "granary_kv_cache_used_blocks", server.ModelLabel) > 0, "the request to hold KV blocks");
        if (stream)
        {
            var response = await sending;
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
            cancel.Cancel();
            response.Dispose();
        }
        cancel.Cancel();
        client.Dispose();
        await Assert.ThrowsAnyAsync<Exception>(async () => { using var r = await sending; await r.Content.ReadAsStringAsync(cancel.Token); });

        await TestServer.EventuallyAsync(async () =>
        {
            string metrics = await server.MetricsAsync();
            return TestServer.Metric(metrics, "granary_kv_cache_used_blocks", server.ModelLabel) == 0 && TestServer.Metric(metrics, "granary_num_requests_running", server.ModelLabel) == 0;
        }, "the blocks to be freed");
        Assert.Equal(abortedBefore + 8, TestServer.Metric(await server.MetricsAsync(), "granary_aborted_sequences_total", server.ModelLabel));
    }
}

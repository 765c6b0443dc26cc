using System.Text;

namespace Granary.Serving.Tests;

/// <summary>200 mixed requests against one server: only the intended errors, and everything released afterwards.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class SoakTests(Stories15MServer server)
{
    [Fact]
    public async Task TwoHundredMixedRequests()
    {
        await server.PostJsonAsync("/v1/completions", """{"prompt":"warm up","max_tokens":2}""");
        long idle = Settle();
        using var gate = new SemaphoreSlim(16);
        var random = new Random(11);
        var kinds = Enumerable.Range(0, 200).Select(_ => random.Next(4)).ToArray();
        var outcomes = await Task.WhenAll(kinds.Select(async (kind, i) =>
        {
            await gate.WaitAsync();
            try
            {
                return await RunOne(kind, i);
            }
            finally
            {
                gate.Release();
            }
        }));
        Assert.All(outcomes, o => Assert.True(o.Ok, o.What));

        await TestServer.EventuallyAsync(async () =>
        {
            string metrics = await server.MetricsAsync();
            return TestServer.Metric(metrics, "granary_kv_cache_used_blocks", server.ModelLabel) == 0 && TestServer.Metric(metrics, "granary_num_requests_running", server.ModelLabel) == 0
                && TestServer.Metric(metrics, "granary_num_requests_waiting", server.ModelLabel) == 0;
        }, "the engine to go idle");
        Assert.Equal(200, (int)(await server.Http.GetAsync("/health")).StatusCode);
        Assert.Equal(0, TestServer.Metric(await server.MetricsAsync(), "granary_engine_errors_total", server.ModelLabel));
        long after = Settle();
        Assert.True(after < idle + (32 << 20), $"managed memory went from {idle >> 20} MiB idle to {after >> 20} MiB after the soak");
    }

    private static long Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private async Task<(bool Ok, string What)> RunOne(int kind, int i)
    {
        string prompt = $"Once upon a time, number {i}";
        switch (kind)
        {
            case 0:
            {
                var (events, done) = await server.StreamAsync("/v1/chat/completions", $$"""{"messages":[{"role":"user","content":"{{prompt}}"}],"max_tokens":6,"stream":true,"seed":{{i}}}""");
                return (done && events.Count >= 2, $"stream {i}");
            }
            case 1:
            {
                var (status, body) = await server.PostJsonAsync("/v1/completions", $$"""{"prompt":"{{prompt}}","max_tokens":6,"temperature":0}""");
                return (status == 200 && body.GetProperty("choices").GetArrayLength() == 1, $"completion {i}: {status} {body}");
            }
            case 2:
            {
                using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50 + i % 7 * 30));
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent($$"""{"prompt":"{{prompt}}","max_tokens":200,"ignore_eos":true,"stream":{{(i % 2 == 0 ? "true" : "false")}}}""", Encoding.UTF8, "application/json") };
                    using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
                    await response.Content.ReadAsStringAsync(cancel.Token);
                }
                catch (OperationCanceledException) { }
                return (true, "");
            }
            default:
            {
                var (status, _) = await server.PostJsonAsync("/v1/completions", i % 2 == 0 ? """{"prompt":"x","max_tokens":""" : """{"prompt":"x","temperature":-2}""");
                return (status == 400, $"malformed {i}: {status}");
            }
        }
    }
}

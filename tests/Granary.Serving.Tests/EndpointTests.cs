using System.Text.Json;

namespace Granary.Serving.Tests;

/// <summary>Every endpoint, streamed and not, with the response shapes of OpenAI's API.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class EndpointTests(Stories15MServer server)
{
    [Fact]
    public async Task ModelsHealthReadyAndMetrics()
    {
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("/v1/models"));
        var root = doc.RootElement;
        Assert.Equal("list", root.GetProperty("object").GetString());
        var card = root.GetProperty("data")[0];
        Assert.Equal("stories15M", card.GetProperty("id").GetString());
        Assert.Equal("model", card.GetProperty("object").GetString());
        Assert.Equal("granary", card.GetProperty("owned_by").GetString());
        Assert.Equal(256, card.GetProperty("max_model_len").GetInt32());

        Assert.Equal(200, (int)(await server.Http.GetAsync("/health")).StatusCode);
        Assert.Equal(200, (int)(await server.Http.GetAsync("/ready")).StatusCode);
        var (status, error) = await server.PostJsonAsync("/v1/nothing", "{}");
        Assert.Equal(404, status);
        Assert.Equal("not_found_error", error.GetProperty("error").GetProperty("type").GetString());

        await server.PostJsonAsync("/v1/completions", """{"prompt":"Once upon a time","max_tokens":4}""");
        string metrics = await server.MetricsAsync();
        foreach (string name in new[] { "granary_num_requests_running", "granary_num_requests_waiting", "granary_kv_cache_usage_perc", "granary_prompt_tokens_total", "granary_generation_tokens_total" })
            TestServer.Metric(metrics, name, server.ModelLabel);
        Assert.Contains("granary_time_to_first_token_seconds_bucket{", metrics);
        Assert.Contains("granary_time_per_output_token_seconds_count", metrics);
        Assert.True(TestServer.Metric(metrics, "granary_requests_total", "endpoint=\"completions\"", "status=\"200\"") >= 1);
        Assert.True(TestServer.Metric(metrics, "granary_generation_tokens_total", server.ModelLabel) >= 4);
    }

    [Fact]
    public async Task CompletionStreamedAndNotGiveTheSameGreedyText()
    {
        const string request = """{"model":"stories15M","prompt":"Once upon a time","max_tokens":20,"temperature":0,"ignore_eos":true""";
        var (status, body) = await server.PostJsonAsync("/v1/completions", request + "}");
        Assert.Equal(200, status);
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal("stories15M", body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("created").GetInt64() > 1_700_000_000);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        string text = choice.GetProperty("text").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(text));
        var usage = body.GetProperty("usage");
        Assert.Equal(20, usage.GetProperty("completion_tokens").GetInt32());
        int prompt = usage.GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(server.Model.Tokenizer.Encode("Once upon a time").Length, prompt);
        Assert.Equal(prompt + 20, usage.GetProperty("total_tokens").GetInt32());

        var (events, done) = await server.StreamAsync("/v1/completions", request + ""","stream":true,"stream_options":{"include_usage":true}}""");
        Assert.True(done);
        var last = events[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.Equal(20, last.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var chunks = events[..^1];
        Assert.True(chunks.Count > 5, "a streamed answer comes in many chunks");
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.Equal(text, string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal("length", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));

        // Without include_usage there is no usage chunk.
        var (plain, _) = await server.StreamAsync("/v1/completions", request + ""","stream":true}""");
        Assert.All(plain, c => Assert.False(c.TryGetProperty("usage", out _)));
    }

    [Fact]
    public async Task ChatStreamedAndNot()
    {
        const string request = """{"model":"stories15M","messages":[{"role":"user","content":"Once upon a time"}],"max_completion_tokens":16,"temperature":0,"ignore_eos":true""";
        var (status, body) = await server.PostJsonAsync("/v1/chat/completions", request + "}");
        Assert.Equal(200, status);
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        string text = choice.GetProperty("message").GetProperty("content").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(16, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var (events, done) = await server.StreamAsync("/v1/chat/completions", request + ""","stream":true,"stream_options":{"include_usage":true}}""");
        Assert.True(done);
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Equal("assistant", events[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal(16, events[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        string streamed = string.Concat(events.Where(e => e.GetProperty("choices").GetArrayLength() > 0)
            .Select(e => e.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() : ""));
        Assert.Equal(text, streamed);
    }

    [Fact]
    public async Task ChatThroughTheModelsTemplateWithContentParts()
    {
        // stories15M has no template; the content parts form and the plain string give the same prompt.
        var (_, a) = await server.PostJsonAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"Tom had a dog."}],"max_tokens":8,"temperature":0}""");
        var (_, b) = await server.PostJsonAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":[{"type":"text","text":"Tom had "},{"type":"text","text":"a dog."}]}],"max_tokens":8,"temperature":0}""");
        Assert.Equal(a.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), b.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(a.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), b.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task LogprobsInChatAndCompletions()
    {
        var (status, chat) = await server.PostJsonAsync("/v1/chat/completions", """{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":5,"temperature":0,"ignore_eos":true,"logprobs":true,"top_logprobs":3}""");
        Assert.Equal(200, status);
        var content = chat.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(5, content.GetArrayLength());
        foreach (var token in content.EnumerateArray())
        {
            var top = token.GetProperty("top_logprobs");
            Assert.Equal(3, top.GetArrayLength());
            // Greedy: the chosen token is the most likely one.
            Assert.Equal(top[0].GetProperty("token").GetString(), token.GetProperty("token").GetString());
            Assert.Equal(top[0].GetProperty("logprob").GetSingle(), token.GetProperty("logprob").GetSingle(), 4);
            Assert.True(token.GetProperty("logprob").GetSingle() <= 0);
            Assert.Equal(JsonValueKind.Array, token.GetProperty("bytes").ValueKind);
        }
        string text = chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Equal(text, string.Concat(content.EnumerateArray().Select(t => t.GetProperty("token").GetString())).TrimStart());

        var (status2, completion) = await server.PostJsonAsync("/v1/completions", """{"prompt":"Once upon a time","max_tokens":4,"temperature":0,"ignore_eos":true,"logprobs":2}""");
        Assert.Equal(200, status2);
        var logprobs = completion.GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal(4, logprobs.GetProperty("tokens").GetArrayLength());
        Assert.Equal(4, logprobs.GetProperty("token_logprobs").GetArrayLength());
        Assert.Equal(4, logprobs.GetProperty("text_offset").GetArrayLength());
        Assert.All(logprobs.GetProperty("top_logprobs").EnumerateArray(), t => Assert.InRange(t.EnumerateObject().Count(), 1, 2));
    }

    [Fact]
    public async Task StopNSeedAndSamplingExtras()
    {
        var (_, greedy) = await server.PostJsonAsync("/v1/completions", """{"prompt":"Once upon a time","max_tokens":30,"temperature":0,"ignore_eos":true}""");
        string text = greedy.GetProperty("choices")[0].GetProperty("text").GetString()!;
        string stop = text.Substring(text.Length / 2, 3);
        var (_, stopped) = await server.PostJsonAsync("/v1/completions", $$"""{"prompt":"Once upon a time","max_tokens":30,"temperature":0,"stop":[{{JsonSerializer.Serialize(stop)}},"zzzz"]}""");
        var choice = stopped.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());

        const string sampled = """{"prompt":"Once upon a time","max_tokens":12,"temperature":1.0,"top_p":0.9,"top_k":40,"min_p":0.01,"repetition_penalty":1.1,"seed":7,"n":3}""";
        var (status, a) = await server.PostJsonAsync("/v1/completions", sampled);
        Assert.Equal(200, status);
        var (_, b) = await server.PostJsonAsync("/v1/completions", sampled);
        Assert.Equal(3, a.GetProperty("choices").GetArrayLength());
        Assert.Equal([0, 1, 2], a.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(a.GetProperty("choices").ToString(), b.GetProperty("choices").ToString());
        Assert.InRange(a.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 3, 36);
    }

    [Fact]
    public async Task RepeatedPromptHitsThePrefixCache()
    {
        const string request = """{"prompt":"Once upon a time there was a little girl named Lily who loved to play in the park with her friends every day after school.","max_tokens":8,"temperature":0}""";
        var (_, first) = await server.PostJsonAsync("/v1/completions", request);
        var (_, second) = await server.PostJsonAsync("/v1/completions", request);
        Assert.True(first.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 16);
        Assert.True(second.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32() >= 16);
        Assert.Equal(first.GetProperty("choices")[0].GetProperty("text").GetString(), second.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.True(TestServer.Metric(await server.MetricsAsync(), "granary_prefix_cache_hits_total", server.ModelLabel) >= 16);
    }
}

using System.Text;
using System.Text.Json;

namespace Granary.Serving.Tests;

/// <summary>Bad requests get OpenAI error bodies with the right status, and the server keeps serving.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class BadInputTests(Stories15MServer server)
{
    public static TheoryData<string, string, int, string?> Cases => new()
    {
        { "/v1/completions", """{"prompt":"hi","max_tokens":""", 400, null },                                  // malformed JSON
        { "/v1/completions", """not json""", 400, null },
        { "/v1/completions", "", 400, null },                                                                    // empty body
        { "/v1/completions", """[1,2]""", 400, null },                                                           // not an object
        { "/v1/completions", """{"prompt":"hi","max_tokens":"ten"}""", 400, "max_tokens" },                     // wrong types
        { "/v1/completions", """{"prompt":"hi","temperature":"hot"}""", 400, "temperature" },
        { "/v1/completions", """{"prompt":{"text":"hi"}}""", 400, "prompt" },
        { "/v1/completions", """{"prompt":"hi","stop":5}""", 400, "stop" },
        { "/v1/completions", """{"prompt":"hi","stream":"yes"}""", 400, "stream" },
        { "/v1/completions", """{"prompt":"hi","max_tokens":1e20}""", 400, "max_tokens" },                     // an integer out of range
        { "/v1/completions", """{"prompt":"hi","stop":["a","b","c","d","e"]}""", 400, "stop" },                  // more than OpenAI's 4
        { "/v1/chat/completions", """{"messages":[{"role":5}]}""", 400, "messages[0].role" },
        { "/v1/completions", """{"model":"gpt-4","prompt":"hi"}""", 404, "model" },                              // unknown model
        { "/v1/completions", """{"max_tokens":5}""", 400, "prompt" },                                           // missing prompt
        { "/v1/completions", """{"prompt":[]}""", 400, "prompt" },
        { "/v1/completions", """{"prompt":[1,2,99999999]}""", 400, "prompt" },                                   // id outside the vocabulary
        { "/v1/completions", """{"prompt":"hi","max_tokens":0}""", 400, "max_tokens" },                         // max_tokens out of range
        { "/v1/completions", """{"prompt":"hi","max_tokens":-3}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt":"hi","max_tokens":100000}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt":"hi","temperature":-0.5}""", 400, "temperature" },                    // temperature < 0
        { "/v1/completions", """{"prompt":"hi","top_p":0}""", 400, "top_p" },
        { "/v1/completions", """{"prompt":"hi","n":0}""", 400, "n" },
        { "/v1/completions", """{"prompt":"hi","n":1000}""", 400, "n" },
        { "/v1/completions", """{"prompt":"hi","logprobs":50}""", 400, "logprobs" },
        { "/v1/completions", """{"prompt":"hi","stop":[""]}""", 400, "stop" },
        { "/v1/chat/completions", """{"messages":[]}""", 400, "messages" },                                     // empty messages
        { "/v1/chat/completions", """{"model":"stories15M"}""", 400, "messages" },
        { "/v1/chat/completions", """{"messages":[{"role":"wizard","content":"hi"}]}""", 400, "messages[0].role" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":5}]}""", 400, "messages[0].content" },
        { "/v1/chat/completions", """{"messages":"hello"}""", 400, "messages" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"top_logprobs":2}""", 400, "top_logprobs" },
        { "/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":0}""", 400, "max_tokens" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task GetsAnOpenAiErrorBody(string path, string body, int status, string? param)
    {
        var (actual, error) = await server.PostJsonAsync(path, body);
        Assert.Equal(status, actual);
        AssertError(error, param);
    }

    [Theory]
    [InlineData("""{"prompt":"hi","temperature":"hot"}""", "temperature must be a number, got a string", "invalid_type")]
    [InlineData("""{"prompt":"hi","max_tokens":"ten"}""", "max_tokens must be an integer, got a string", "invalid_type")]
    [InlineData("""{"prompt":"hi","max_tokens":2.5}""", "max_tokens must be an integer, got a number", "invalid_type")]
    [InlineData("""{"prompt":"hi","stream":"yes"}""", "stream must be a boolean, got a string", "invalid_type")]
    [InlineData("""{"prompt":"hi","stream_options":{"include_usage":1}}""", "stream_options.include_usage must be a boolean, got a number", "invalid_type")]
    [InlineData("""{"prompt":"hi","max_tokens":1e20}""", "max_tokens is too large: expected at most 2147483647, got 1e20", "integer_above_max_value")]
    [InlineData("""[1,2]""", "the request body must be a JSON object", "invalid_json")]
    public async Task WrongTypesAreSaidPlainly(string body, string message, string code)
    {
        var (status, error) = await server.PostJsonAsync("/v1/completions", body);
        Assert.Equal(400, status);
        Assert.Equal(message, error.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(code, error.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task PromptLongerThanTheContext()
    {
        string prompt = string.Join(' ', Enumerable.Repeat("Once upon a time there was a dog.", 60));
        var (status, error) = await server.PostJsonAsync("/v1/completions", $$"""{"prompt":{{JsonSerializer.Serialize(prompt)}}}""");
        Assert.Equal(400, status);
        AssertError(error, null);
        Assert.Equal("context_length_exceeded", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("256", error.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task InvalidUtf8()
    {
        byte[] body = [.. "{\"prompt\":\"hi "u8, 0xC3, 0x28, 0xFF, .. "\"}"u8];
        using var response = await server.Http.PostAsync("/v1/completions", new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });
        Assert.Equal(400, (int)response.StatusCode);
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, null);
    }

    [Fact]
    public async Task HugeBody()
    {
        // Expect: 100-continue lets the server refuse before the client sends 5 MiB (as curl does for big bodies).
        string prompt = new('a', 5 << 20);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent($$"""{"prompt":"{{prompt}}"}""", Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using var response = await server.Http.SendAsync(request);
        Assert.Equal(413, (int)response.StatusCode);
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, null);
    }

    [Fact]
    public async Task BadRequestsDoNotDisturbOthers()
    {
        // A long stream runs while bad requests come and go; it finishes intact.
        var good = server.StreamAsync("/v1/completions", """{"prompt":"Once upon a time","max_tokens":60,"temperature":0,"ignore_eos":true,"stream":true}""");
        for (int i = 0; i < 10; i++)
        {
            var (status, _) = await server.PostJsonAsync("/v1/completions", i % 2 == 0 ? "{\"prompt\":" : """{"prompt":"x","temperature":-1}""");
            Assert.Equal(400, status);
        }
        var (events, done) = await good;
        Assert.True(done);
        Assert.Equal("length", events[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(200, (int)(await server.Http.GetAsync("/health")).StatusCode);
    }

    private static void AssertError(JsonElement body, string? param)
    {
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.True(error.TryGetProperty("param", out var p));
        Assert.True(error.TryGetProperty("code", out _));
        if (param is not null) Assert.Equal(param, p.GetString());
    }
}

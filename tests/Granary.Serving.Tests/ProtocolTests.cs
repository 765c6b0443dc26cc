using System.Text;
using System.Text.Json;

namespace Granary.Serving.Tests;

/// <summary>HTTP details the OpenAI SDKs and curl users meet: models.retrieve, content types, methods, JSON escaping.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class ProtocolTests(Stories15MServer server)
{
    [Fact]
    public async Task RetrievesTheServedModelAndNoOther()
    {
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("/v1/models/stories15M"));
        Assert.Equal("stories15M", doc.RootElement.GetProperty("id").GetString());
        Assert.Equal("model", doc.RootElement.GetProperty("object").GetString());
        Assert.Equal(256, doc.RootElement.GetProperty("max_model_len").GetInt32());

        using var missing = await server.Http.GetAsync("/v1/models/org/gpt-4");
        Assert.Equal(404, (int)missing.StatusCode);
        var error = JsonDocument.Parse(await missing.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("'org/gpt-4'", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task ABodyThatIsNotJsonIsRefused(string contentType)
    {
        using var response = await server.Http.PostAsync("/v1/completions", new StringContent("""{"prompt":"hi","max_tokens":2}""", Encoding.UTF8, contentType));
        Assert.Equal(415, (int)response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Contains("application/json", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AMissingContentTypeIsReadAsJson()
    {
        var content = new ByteArrayContent("""{"prompt":"hi","max_tokens":2}"""u8.ToArray());
        using var response = await server.Http.PostAsync("/v1/completions", content);
        Assert.Equal(200, (int)response.StatusCode);
    }

    [Theory]
    [InlineData("GET", "/v1/completions", "POST")]
    [InlineData("GET", "/v1/chat/completions", "POST")]
    [InlineData("POST", "/v1/models", "GET")]
    [InlineData("DELETE", "/health", "GET")]
    public async Task TheWrongMethodIs405(string method, string path, string allowed)
    {
        using var response = await server.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(405, (int)response.StatusCode);
        Assert.Equal([allowed], response.Content.Headers.Allow);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("method_not_allowed", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task AnswersEscapeJsonAsOpenAiDoes()
    {
        // The unknown model's name comes back in the message: quotes as \", HTML characters and non-ASCII as they are.
        using var response = await server.PostAsync("/v1/completions", """{"model":"a\"<b>'é","prompt":"hi"}""");
        string raw = await response.Content.ReadAsStringAsync();
        Assert.Contains("""'a\"<b>'é'""", raw);
        Assert.DoesNotContain("\\u00", raw);

        // Streamed chunks too: a story with dialogue has quotes.
        using var stream = await server.PostAsync("/v1/completions", """{"prompt":"Lily said, \"","max_tokens":40,"temperature":0,"stream":true}""");
        string chunks = await stream.Content.ReadAsStringAsync();
        Assert.Contains("\\\"", chunks);
        Assert.DoesNotContain("\\u0022", chunks);
        Assert.DoesNotContain("\\u0027", chunks);
    }
}

using System.Text.Json;
using Granary.Client.Internal;
using Granary.Client.Models;

namespace Granary.Client.Tests;

/// <summary>What the client sends (OpenAI's field names, unset fields left out) and how it reads endpoints and options.</summary>
public sealed class RequestTests
{
    [Fact]
    public void UnsetFieldsAreLeftOutAndNamesAreSnakeCase()
    {
        var request = new ChatCompletionRequest
        {
            Messages = [ChatRequestMessage.System("be brief"), ChatRequestMessage.User("hi")],
            MaxCompletionTokens = 5,
            TopK = 3,
            RepetitionPenalty = 1.1f,
            IgnoreEos = true,
            Stop = ["\n"],
        };
        string json = JsonSerializer.Serialize(request.Prepare<ChatCompletionRequest>("m", stream: false, includeUsage: false), GranaryJsonContext.Default.ChatCompletionRequest);
        Assert.Equal("""{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_completion_tokens":5,"model":"m","top_k":3,"repetition_penalty":1.1,"stop":["\n"],"ignore_eos":true}""", json);

        string stream = JsonSerializer.Serialize(request.Prepare<ChatCompletionRequest>(null, stream: true, includeUsage: true), GranaryJsonContext.Default.ChatCompletionRequest);
        using var doc = JsonDocument.Parse(stream);
        Assert.True(doc.RootElement.GetProperty("stream").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.False(doc.RootElement.TryGetProperty("model", out _));
        Assert.Null(request.Model); // the caller's object is never changed
    }

    [Fact]
    public void PromptForms()
    {
        string Json(CompletionPrompt prompt) => JsonSerializer.Serialize(new CompletionRequest { Prompt = prompt }, GranaryJsonContext.Default.CompletionRequest);
        Assert.Equal("""{"prompt":"Once"}""", Json("Once"));
        Assert.Equal("""{"prompt":["a","b"]}""", Json(CompletionPrompt.FromTexts(["a", "b"])));
        Assert.Equal("""{"prompt":[1,9038]}""", Json(CompletionPrompt.FromTokenIds([1, 9038])));
        Assert.Throws<ArgumentException>(() => CompletionPrompt.FromTokenIds([]));
        var back = JsonSerializer.Deserialize("""{"prompt":[1,2]}""", GranaryJsonContext.Default.CompletionRequest)!;
        Assert.Equal([1, 2], back.Prompt.TokenIds);
    }

    [Fact]
    public void ResponsesIgnoreUnknownFields()
    {
        var chunk = JsonSerializer.Deserialize("""{"id":"c","object":"chat.completion.chunk","created":5,"model":"m","system_fingerprint":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi","reasoning":null},"finish_reason":"stop","stop_reason":null}]}""",
            GranaryJsonContext.Default.ChatCompletionChunk)!;
        Assert.Equal("Hi", chunk.ContentDelta);
        Assert.Equal("stop", chunk.Choices[0].FinishReason);
    }

    [Theory]
    [InlineData("http://10.0.0.5:8000", "http://10.0.0.5:8000/")]
    [InlineData("http://10.0.0.5:8000/", "http://10.0.0.5:8000/")]
    [InlineData("http://10.0.0.5:8000/v1", "http://10.0.0.5:8000/")]
    [InlineData("https://llm.example/granary/v1/", "https://llm.example/granary/")]
    [InlineData("http://h/prefix", "http://h/prefix/")]
    public void EndpointsAreNormalized(string given, string expected) =>
        Assert.Equal(new Uri(expected), EndpointList.Normalize(new Uri(given)));

    [Fact]
    public void BadOptionsAreRefusedNamingTheField()
    {
        Assert.Contains("Endpoints is empty", Assert.Throws<ArgumentException>(() => new GranaryClient(new GranaryClientOptions())).Message);
        Assert.Contains("not an absolute http", Assert.Throws<ArgumentException>(() => new GranaryClient(new GranaryClientOptions { Endpoints = [new Uri("ftp://x/")] })).Message);
        Assert.Contains("MaxRetries", Assert.Throws<ArgumentException>(() => new GranaryClient(new GranaryClientOptions { Endpoints = [new Uri("http://x/")], MaxRetries = -1 })).Message);
        Assert.Contains("ConnectTimeout", Assert.Throws<ArgumentException>(() => new GranaryClient(new GranaryClientOptions { Endpoints = [new Uri("http://x/")], ConnectTimeout = TimeSpan.Zero })).Message);
    }
}

using Granary.Client.Models;

namespace Granary.Client.Tests;

/// <summary>Typed and streamed completions and chat against a real server, checked against llama2.c's greedy story.</summary>
[Collection(ServerCollection.Name)]
public sealed class CompletionTests(StoriesServer server)
{
    [Fact]
    public async Task ListsTheServedModel()
    {
        using var client = server.Client();
        var models = await client.ListModelsAsync();
        var model = Assert.Single(models.Data);
        Assert.Equal("stories15M", model.Id);
        Assert.Equal(256, model.MaxModelLen);
    }

    [Fact]
    public async Task TypedCompletionReproducesLlama2c()
    {
        using var client = server.Client();
        foreach (var prompt in new CompletionPrompt[] { TestData.StoryPrompt, CompletionPrompt.FromTokenIds(TestData.StoryPromptIds) })
        {
            var response = await client.CompleteAsync(new CompletionRequest { Prompt = prompt, MaxTokens = TestData.StoryTokens, Temperature = 0 });
            Assert.StartsWith("cmpl-", response.Id);
            Assert.Equal("text_completion", response.Object);
            Assert.Equal("stories15M", response.Model);
            var choice = Assert.Single(response.Choices);
            Assert.Equal(TestData.StoryContinuation, choice.Text);
            Assert.Equal("length", choice.FinishReason);
            Assert.Equal(5, response.Usage!.PromptTokens);
            Assert.Equal(TestData.StoryTokens, response.Usage.CompletionTokens);
            Assert.Equal(5 + TestData.StoryTokens, response.Usage.TotalTokens);
        }
    }

    [Fact]
    public async Task StreamedCompletionAddsUpToTheSameText()
    {
        using var client = server.Client();
        var request = new CompletionRequest { Prompt = TestData.StoryPrompt, MaxTokens = TestData.StoryTokens, Temperature = 0 };
        var chunks = new List<CompletionResponse>();
        await foreach (var chunk in client.CompleteStreamingAsync(request, includeUsage: true)) chunks.Add(chunk);

        Assert.True(chunks.Count > 2, $"the answer came in {chunks.Count} chunks, not streamed");
        Assert.Equal(TestData.StoryContinuation, string.Concat(chunks.Select(c => c.Text)));
        Assert.Single(chunks.Select(c => c.Id).Distinct());
        var withText = chunks.Where(c => c.Choices.Count > 0).ToList();
        Assert.All(withText[..^1], c => Assert.Null(c.Choices[0].FinishReason));
        Assert.Equal("length", withText[^1].Choices[0].FinishReason);
        // include_usage: the usage rides on a last chunk without choices.
        Assert.Empty(chunks[^1].Choices);
        Assert.Equal(TestData.StoryTokens, chunks[^1].Usage!.CompletionTokens);
        Assert.Null(request.Model); // the caller's request is not changed by the client
    }

    [Fact]
    public async Task TypedAndStreamedChat()
    {
        using var client = server.Client();
        // stories15M has no chat template: the server runs the message's text as a plain prompt (with BOS).
        var request = new ChatCompletionRequest { Messages = [ChatRequestMessage.User(TestData.StoryPrompt)], MaxTokens = TestData.StoryTokens, Temperature = 0 };
        var response = await client.CompleteChatAsync(request);
        Assert.StartsWith("chatcmpl-", response.Id);
        Assert.Equal("assistant", response.Choices[0].Message.Role);
        Assert.Equal(TestData.StoryContinuation, response.Content);
        Assert.Equal("length", response.Choices[0].FinishReason);
        Assert.Equal(TestData.StoryTokens, response.Usage!.CompletionTokens);

        var chunks = new List<ChatCompletionChunk>();
        await foreach (var chunk in client.CompleteChatStreamingAsync(request)) chunks.Add(chunk);
        Assert.Equal("assistant", chunks[0].Choices[0].Delta.Role);
        Assert.True(chunks.Count > 2, $"the answer came in {chunks.Count} chunks, not streamed");
        Assert.Equal(TestData.StoryContinuation, string.Concat(chunks.Select(c => c.ContentDelta)));
        Assert.Equal("length", chunks[^1].Choices[0].FinishReason);
        Assert.All(chunks, c => Assert.Null(c.Usage));
    }

    [Fact]
    public async Task RefusedRequestsThrowTheServersError()
    {
        using var client = server.Client();
        var tooLong = await Assert.ThrowsAsync<GranaryApiException>(() =>
            client.CompleteAsync(new CompletionRequest { Prompt = TestData.StoryPrompt, MaxTokens = 1000 }));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Equal("invalid_request_error", tooLong.Type);
        Assert.Equal("context_length_exceeded", tooLong.Code);
        Assert.Equal("max_tokens", tooLong.Param);
        Assert.Contains("maximum context length is 256", tooLong.Message);

        var unknown = await Assert.ThrowsAsync<GranaryApiException>(() =>
            client.CompleteAsync(new CompletionRequest { Prompt = "x", Model = "gpt-4", MaxTokens = 1 }));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("model_not_found", unknown.Code);

        // A model from the options is sent when the request names none.
        using var wrongDefault = server.Client(o => o.Model = "gpt-4");
        Assert.Equal("model_not_found", (await Assert.ThrowsAsync<GranaryApiException>(() =>
            wrongDefault.CompleteAsync(new CompletionRequest { Prompt = "x", MaxTokens = 1 }))).Code);

        using var noKey = server.Client(o => o.ApiKey = null);
        var denied = await Assert.ThrowsAsync<GranaryApiException>(() => noKey.ListModelsAsync());
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, denied.StatusCode);
        Assert.Equal("authentication_error", denied.Type);
        Assert.Equal("invalid_api_key", denied.Code);
        // Streams refuse the same way, before any chunk.
        var streamDenied = await Assert.ThrowsAsync<GranaryApiException>(async () =>
        {
            await foreach (var _ in noKey.CompleteStreamingAsync(new CompletionRequest { Prompt = "x" })) { }
        });
        Assert.Equal("invalid_api_key", streamDenied.Code);
    }
}

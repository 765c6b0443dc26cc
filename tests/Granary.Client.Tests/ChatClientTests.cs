using Microsoft.Extensions.AI;

namespace Granary.Client.Tests;

/// <summary>Microsoft.Extensions.AI's IChatClient over a real server.</summary>
[Collection(ServerCollection.Name)]
public sealed class ChatClientTests(StoriesServer server)
{
    private static ChatOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokens = maxTokens };

    [Fact]
    public async Task ChatAnswersThroughTheAbstraction()
    {
        using var granary = server.Client();
        IChatClient chat = granary.AsChatClient();
        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, TestData.StoryPrompt)], Greedy(TestData.StoryTokens));

        Assert.Equal(TestData.StoryContinuation, response.Text);
        var message = Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, message.Role);
        Assert.StartsWith("chatcmpl-", response.ResponseId);
        Assert.Equal("stories15M", response.ModelId);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(5, response.Usage!.InputTokenCount);
        Assert.Equal(TestData.StoryTokens, response.Usage.OutputTokenCount);
        Assert.Equal(5 + TestData.StoryTokens, response.Usage.TotalTokenCount);
        Assert.IsType<Granary.Client.Models.ChatCompletionResponse>(response.RawRepresentation);

        var metadata = chat.GetService<ChatClientMetadata>()!;
        Assert.Equal("granary", metadata.ProviderName);
        Assert.Equal(server.BaseUrl, metadata.ProviderUri);
        Assert.Same(granary, chat.GetService<GranaryClient>());
    }

    [Fact]
    public async Task StreamingThroughTheAbstraction()
    {
        using var granary = server.Client();
        IChatClient chat = new GranaryChatClient(granary);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(TestData.StoryPrompt, Greedy(TestData.StoryTokens))) updates.Add(update);

        Assert.True(updates.Count(u => u.Text.Length > 0) > 2, "the answer was not streamed");
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        var response = updates.ToChatResponse();
        Assert.Equal(TestData.StoryContinuation, response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(TestData.StoryTokens, response.Usage!.OutputTokenCount); // the client asks for the usage chunk
        Assert.Single(response.Messages);
    }

    [Fact]
    public async Task OptionsReachTheServer()
    {
        using var granary = server.Client();
        IChatClient chat = granary.AsChatClient("stories15M");
        // Instructions become a first system message; without a chat template the server joins the contents by lines.
        var options = new ChatOptions
        {
            Instructions = "Once upon a time",
            MaxOutputTokens = 40,
            Temperature = 0,
            StopSequences = ["."],
            AdditionalProperties = new() { ["repetition_penalty"] = 1f },
        };
        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "there was a little girl named")], options);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.DoesNotContain(".", response.Text);
        Assert.NotEmpty(response.Text);

        var unknown = new ChatOptions { ModelId = "gpt-4", MaxOutputTokens = 1 };
        Assert.Equal("model_not_found", (await Assert.ThrowsAsync<GranaryApiException>(() => chat.GetResponseAsync("hi", unknown))).Code);
        await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync([new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1 }, "image/png")])]));
    }

    [Fact]
    public async Task CancellingTheAbstractionsStreamAbortsTheServersRequest()
    {
        using var granary = server.Client();
        IChatClient chat = granary.AsChatClient();
        var options = new ChatOptions { MaxOutputTokens = 200, AdditionalProperties = new() { ["ignore_eos"] = true } };
        await server.ExpectAbortedAsync(async () =>
        {
            using var cancel = new CancellationTokenSource();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var update in chat.GetStreamingResponseAsync(TestData.StoryPrompt, options, cancel.Token))
                {
                    if (update.Text.Length > 0) cancel.Cancel();
                }
            });
        });
    }
}

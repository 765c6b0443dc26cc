using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Granary.Serving.Tests;

/// <summary>The OpenAI SDK's chat client as Microsoft.Extensions.AI's <see cref="IChatClient"/> (<c>AsIChatClient()</c>) against the server.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class OpenAiChatClientTests(Stories15MServer server)
{
    private IChatClient Client() =>
        new OpenAI.Chat.ChatClient("stories15M", new ApiKeyCredential("not-needed"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl + "/v1") }).AsIChatClient();

    [Fact]
    public async Task AnswersWholeAndStreamed()
    {
        using var chat = Client();
        var options = new ChatOptions { MaxOutputTokens = 16, Temperature = 0 };
        ChatResponse response = await chat.GetResponseAsync("Once upon a time", options);
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        Assert.False(string.IsNullOrWhiteSpace(response.Text));
        Assert.Equal("stories15M", response.ModelId);
        Assert.InRange(response.Usage?.OutputTokenCount ?? 0, 1, 16);
        Assert.True(response.FinishReason == ChatFinishReason.Stop || response.FinishReason == ChatFinishReason.Length);

        var streamed = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync("Once upon a time", options))
        {
            streamed.Append(update.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(response.Text, streamed.ToString());
        Assert.Equal(response.FinishReason, finish);
    }

    [Fact]
    public async Task AnUnknownModelIsAnError()
    {
        using var chat = new OpenAI.Chat.ChatClient("gpt-4", new ApiKeyCredential("not-needed"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl + "/v1") }).AsIChatClient();
        var error = await Assert.ThrowsAsync<ClientResultException>(() => chat.GetResponseAsync("hi"));
        Assert.Equal(404, error.Status);
        Assert.Contains("does not exist", error.Message);
    }
}

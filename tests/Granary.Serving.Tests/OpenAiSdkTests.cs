using System.ClientModel;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;

namespace Granary.Serving.Tests;

/// <summary>The official OpenAI .NET SDK, unmodified, against the server.</summary>
[Collection(Stories15MCollection.Name)]
public sealed class OpenAiSdkTests(Stories15MServer server)
{
    private OpenAIClientOptions Options => new() { Endpoint = new Uri(server.BaseUrl + "/v1") };

    private ChatClient Client() => new("stories15M", new ApiKeyCredential("not-needed"), Options);

    [Fact]
    public async Task RetrievesAndListsTheModel()
    {
        var models = new OpenAIModelClient(new ApiKeyCredential("not-needed"), Options);
        OpenAIModel model = await models.GetModelAsync("stories15M");
        Assert.Equal("stories15M", model.Id);
        Assert.Equal("granary", model.OwnedBy);
        Assert.Equal(["stories15M"], (await models.GetModelsAsync()).Value.Select(m => m.Id));
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("gpt-4"));
        Assert.Equal(404, missing.Status);
    }

    [Fact]
    public async Task CompletesAChat()
    {
        ChatCompletion completion = await Client().CompleteChatAsync(
            [new UserChatMessage("Once upon a time")],
            new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 0 });
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal("stories15M", completion.Model);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 16);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.True(completion.FinishReason is ChatFinishReason.Stop or ChatFinishReason.Length);
    }

    [Fact]
    public async Task StreamsAChat()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 0 };
        ChatCompletion whole = await Client().CompleteChatAsync([new UserChatMessage("Once upon a time")], options);
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (StreamingChatCompletionUpdate update in Client().CompleteChatStreamingAsync([new UserChatMessage("Once upon a time")], options))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.True(updates > 3);
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, finish);
    }
}

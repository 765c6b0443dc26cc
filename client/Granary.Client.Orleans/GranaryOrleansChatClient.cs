using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Granary.Client.Orleans;

/// <summary>A deployment as a Microsoft.Extensions.AI <see cref="IChatClient"/> over the Orleans client.</summary>
internal sealed class GranaryOrleansChatClient(GranaryModel model) : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var answer = await model.ChatAsync(Messages(messages), Options(options), cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, answer.Text))
        {
            ModelId = model.Name,
            FinishReason = Reason(answer.FinishReason),
            Usage = new UsageDetails { InputTokenCount = answer.PromptTokens, OutputTokenCount = answer.CompletionTokens, TotalTokenCount = answer.PromptTokens + answer.CompletionTokens },
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var chunk in model.StreamChatAsync(Messages(messages), Options(options), cancellationToken).ConfigureAwait(false))
            yield return new ChatResponseUpdate(ChatRole.Assistant, chunk.Text) { ModelId = model.Name, FinishReason = Reason(chunk.FinishReason) };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("granary-orleans", defaultModelId: model.Name) : null;

    public void Dispose() { }

    private static GranaryMessage[] Messages(IEnumerable<ChatMessage> messages) => [.. messages.Select(m => new GranaryMessage(m.Role.Value, m.Text))];

    private static GranaryGenerationOptions Options(ChatOptions? options) => new()
    {
        MaxTokens = options?.MaxOutputTokens,
        Temperature = options?.Temperature,
        TopP = options?.TopP,
        TopK = options?.TopK,
        Seed = options?.Seed is { } seed ? (int)seed : null,
        Stop = options?.StopSequences is { Count: > 0 } stop ? [.. stop] : null,
    };

    private static ChatFinishReason? Reason(string? reason) => reason switch
    {
        "stop" => ChatFinishReason.Stop,
        "length" => ChatFinishReason.Length,
        null => null,
        _ => new ChatFinishReason(reason),
    };
}

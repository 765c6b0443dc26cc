using System.Runtime.CompilerServices;
using Granary.Client.Models;
using Microsoft.Extensions.AI;

namespace Granary.Client;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over a <see cref="GranaryClient"/>, so code written against
/// that abstraction (and its middleware: logging, caching, telemetry) runs on Granary. Text only: Granary has no
/// tools, images or structured output, and asking for them throws <see cref="NotSupportedException"/>.
/// </summary>
/// <remarks>
/// <see cref="ChatOptions"/> map to the request: <c>ModelId</c>, <c>Instructions</c> (a first system message),
/// <c>MaxOutputTokens</c>, <c>Temperature</c>, <c>TopP</c>, <c>TopK</c>, <c>Seed</c>, <c>StopSequences</c>,
/// <c>PresencePenalty</c> and <c>FrequencyPenalty</c>; <c>AdditionalProperties</c> may carry vLLM's
/// <c>min_p</c>, <c>repetition_penalty</c> and <c>ignore_eos</c>. A <c>RawRepresentationFactory</c> that returns a
/// <see cref="ChatCompletionRequest"/> gives the starting request.
/// </remarks>
public sealed class GranaryChatClient : IChatClient
{
    private readonly GranaryClient _client;
    private readonly string? _model;
    private readonly bool _ownsClient;
    private readonly ChatClientMetadata _metadata;

    /// <summary>An <see cref="IChatClient"/> over <paramref name="client"/>.</summary>
    /// <param name="client">The client that sends the requests.</param>
    /// <param name="model">Model when <see cref="ChatOptions.ModelId"/> names none; null: <see cref="GranaryClientOptions.Model"/>, then the gateway's.</param>
    /// <param name="ownsClient">Whether <see cref="Dispose"/> disposes <paramref name="client"/>. Default false.</param>
    public GranaryChatClient(GranaryClient client, string? model = null, bool ownsClient = false)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        _model = model;
        _ownsClient = ownsClient;
        _metadata = new ChatClientMetadata("granary", client.Endpoints[0], model ?? client.DefaultModel);
    }

    /// <inheritdoc/>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = ToRequest(messages, options);
        var response = await _client.CompleteChatAsync(request, cancellationToken).ConfigureAwait(false);
        var choice = response.Choices.Count > 0 ? response.Choices[0] : null;
        var message = new ChatMessage(ChatRole.Assistant, choice?.Message.Content ?? "") { MessageId = response.Id, RawRepresentation = choice };
        return new ChatResponse(message)
        {
            ResponseId = response.Id,
            ModelId = response.Model,
            CreatedAt = DateTimeOffset.FromUnixTimeSeconds(response.Created),
            FinishReason = FinishReason(choice?.FinishReason),
            Usage = ToUsage(response.Usage),
            RawRepresentation = response,
        };
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = ToRequest(messages, options);
        await foreach (var chunk in _client.CompleteChatStreamingAsync(request, includeUsage: true, cancellationToken).ConfigureAwait(false))
        {
            var update = new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                ResponseId = chunk.Id,
                MessageId = chunk.Id,
                ModelId = chunk.Model,
                CreatedAt = DateTimeOffset.FromUnixTimeSeconds(chunk.Created),
                RawRepresentation = chunk,
            };
            foreach (var choice in chunk.Choices)
            {
                if (choice.Index != 0) continue; // IChatClient has one answer per request
                if (!string.IsNullOrEmpty(choice.Delta.Content)) update.Contents.Add(new TextContent(choice.Delta.Content));
                if (choice.FinishReason is { } finish) update.FinishReason = FinishReason(finish);
            }
            if (ToUsage(chunk.Usage) is { } usage) update.Contents.Add(new UsageContent(usage));
            yield return update;
        }
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType == typeof(GranaryClient)) return _client;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Disposes the <see cref="GranaryClient"/> when this chat client owns it.</summary>
    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }

    private ChatCompletionRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = new List<ChatRequestMessage>();
        if (options?.Instructions is { Length: > 0 } instructions) list.Add(ChatRequestMessage.System(instructions));
        int index = 0;
        foreach (var message in messages)
        {
            foreach (var content in message.Contents)
            {
                if (content is not (TextContent or TextReasoningContent or UsageContent))
                    throw new NotSupportedException($"message {index} holds {content.GetType().Name}: Granary answers text only");
            }
            list.Add(new ChatRequestMessage { Role = message.Role.Value, Content = message.Text, Name = message.AuthorName });
            index++;
        }
        if (list.Count == 0) throw new ArgumentException("a chat request needs at least one message", nameof(messages));

        var request = options?.RawRepresentationFactory?.Invoke(this) as ChatCompletionRequest ?? new ChatCompletionRequest { Messages = list };
        request.Messages = list;
        request.Model ??= options?.ModelId ?? _model;
        if (options is null) return request;
        if (options.Tools is { Count: > 0 }) throw new NotSupportedException("Granary does not call tools: ChatOptions.Tools must be empty");
        if (options.ResponseFormat is ChatResponseFormatJson) throw new NotSupportedException("Granary has no structured (JSON) output: leave ChatOptions.ResponseFormat unset or text");
        request.MaxTokens ??= options.MaxOutputTokens;
        request.Temperature ??= options.Temperature;
        request.TopP ??= options.TopP;
        request.TopK ??= options.TopK;
        request.Seed ??= options.Seed is { } seed ? checked((int)seed) : null;
        request.PresencePenalty ??= options.PresencePenalty;
        request.FrequencyPenalty ??= options.FrequencyPenalty;
        if (options.StopSequences is { Count: > 0 } stop) request.Stop ??= [.. stop];
        if (options.AdditionalProperties is { } extra)
        {
            if (extra.TryGetValue("min_p", out float minP)) request.MinP ??= minP;
            if (extra.TryGetValue("repetition_penalty", out float penalty)) request.RepetitionPenalty ??= penalty;
            if (extra.TryGetValue("ignore_eos", out bool ignoreEos)) request.IgnoreEos ??= ignoreEos;
        }
        return request;
    }

    private static ChatFinishReason? FinishReason(string? reason) => reason switch
    {
        null => null,
        "stop" => ChatFinishReason.Stop,
        "length" => ChatFinishReason.Length,
        _ => new ChatFinishReason(reason),
    };

    private static UsageDetails? ToUsage(Usage? usage) => usage is null ? null : new UsageDetails
    {
        InputTokenCount = usage.PromptTokens,
        OutputTokenCount = usage.CompletionTokens,
        TotalTokenCount = usage.TotalTokens,
        CachedInputTokenCount = usage.PromptTokensDetails?.CachedTokens,
    };
}

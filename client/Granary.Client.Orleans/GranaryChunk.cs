namespace Granary.Client.Orleans;

/// <summary>New output of an answer: its text and token ids since the previous chunk, and the finish reason on the last one.</summary>
[GenerateSerializer, Immutable]
public sealed record GranaryChunk
{
    /// <summary>Text since the previous chunk.</summary>
    [Id(0)] public string Text { get; init; } = "";
    /// <summary>Token ids since the previous chunk.</summary>
    [Id(1)] public int[] TokenIds { get; init; } = [];
    /// <summary>"stop" or "length" on the last chunk, else null.</summary>
    [Id(2)] public string? FinishReason { get; init; }
    /// <summary>Tokens of the prompt.</summary>
    [Id(3)] public int PromptTokens { get; init; }
    /// <summary>Tokens generated so far.</summary>
    [Id(4)] public int CompletionTokens { get; init; }
}

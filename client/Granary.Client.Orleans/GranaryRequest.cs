namespace Granary.Client.Orleans;

/// <summary>One request to a deployment: a completion (<see cref="Prompt"/>) or a chat (<see cref="Messages"/>), and how to sample.</summary>
[GenerateSerializer, Immutable]
public sealed record GranaryRequest
{
    /// <summary>The text to complete; null for a chat.</summary>
    [Id(0)] public string? Prompt { get; init; }

    /// <summary>The conversation, run through the model's chat template; null for a completion.</summary>
    [Id(1)] public IReadOnlyList<GranaryMessage>? Messages { get; init; }

    /// <summary>How to sample.</summary>
    [Id(2)] public GranaryGenerationOptions Options { get; init; } = new();

    /// <summary>
    /// For a request resumed after its silo died: the token ids already received and the characters of text already
    /// received; the answer goes on after them. Null (the default) for a new request.
    /// </summary>
    [Id(3)] public int[]? ResumeTokenIds { get; init; }

    /// <summary>With <see cref="ResumeTokenIds"/>: characters of the answer already received.</summary>
    [Id(4)] public int ResumeSentChars { get; init; }
}


namespace Granary.Engine;

/// <summary>
/// New output of one choice: the text and token ids since the previous event of that choice (the whole
/// output for a request that does not stream), and the finish reason on its last event.
/// </summary>
public sealed class GenerationEvent
{
    public int Index { get; init; }
    public string Text { get; init; } = "";
    public int[] TokenIds { get; init; } = [];
    /// <summary>Log-probabilities of <see cref="TokenIds"/> when the request asked for them.</summary>
    public GeneratedTokenLogprobs[]? Logprobs { get; init; }
    public FinishReason? FinishReason { get; init; }
    public int PromptTokens { get; init; }
    /// <summary>Tokens generated so far by this choice.</summary>
    public int CompletionTokens { get; init; }
    /// <summary>Prompt tokens whose KV blocks came from the prefix cache.</summary>
    public int CachedTokens { get; init; }
    /// <summary>Set (and nothing else) when the request failed: the engine rejected it or failed.</summary>
    public string? Error { get; init; }
    /// <summary>True when <see cref="Error"/> is the request's fault (400), false for a server failure.</summary>
    public bool IsBadRequest { get; init; }
    /// <summary>True when <see cref="Error"/> says that no replica had room for the request (429: try again shortly).</summary>
    public bool IsBusy { get; init; }
}

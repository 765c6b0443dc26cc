namespace Granary.Client.Models;

/// <summary>What one chunk adds to one choice of a streamed chat answer.</summary>
public sealed class ChatChunkChoice
{
    /// <summary>Which choice (0..n-1).</summary>
    public int Index { get; set; }

    /// <summary>The new text (and, on the first chunk, the role).</summary>
    public ChatDelta Delta { get; set; } = new();

    /// <summary>Log-probabilities of the new tokens, when the request asked for them.</summary>
    public ChatLogprobs? Logprobs { get; set; }

    /// <summary>Set on the choice's last chunk: <c>stop</c>, <c>length</c> or <c>abort</c>.</summary>
    public string? FinishReason { get; set; }
}

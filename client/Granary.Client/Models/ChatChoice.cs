namespace Granary.Client.Models;

/// <summary>One choice of a chat answer.</summary>
public sealed class ChatChoice
{
    /// <summary>Which choice (0..n-1).</summary>
    public int Index { get; set; }

    /// <summary>The assistant's message.</summary>
    public ChatResponseMessage Message { get; set; } = new();

    /// <summary>Log-probabilities, when the request asked for them.</summary>
    public ChatLogprobs? Logprobs { get; set; }

    /// <summary>Why it ended: <c>stop</c>, <c>length</c> or <c>abort</c>.</summary>
    public string? FinishReason { get; set; }
}

namespace Granary.Client.Models;

/// <summary>The chat API's log-probabilities of the generated tokens.</summary>
public sealed class ChatLogprobs
{
    /// <summary>One entry per generated token.</summary>
    public List<ChatTokenLogprob> Content { get; set; } = [];
}

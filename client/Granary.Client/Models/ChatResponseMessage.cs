namespace Granary.Client.Models;

/// <summary>The message of a chat answer.</summary>
public sealed class ChatResponseMessage
{
    /// <summary>Always <c>assistant</c>.</summary>
    public string Role { get; set; } = "assistant";

    /// <summary>The answer's text.</summary>
    public string? Content { get; set; }
}

namespace Granary.Client.Models;

/// <summary>The change a stream chunk makes to the assistant's message.</summary>
public sealed class ChatDelta
{
    /// <summary><c>assistant</c> on the first chunk of a choice, else null.</summary>
    public string? Role { get; set; }

    /// <summary>Text since the previous chunk of this choice.</summary>
    public string? Content { get; set; }
}

namespace Granary.Client.Models;

/// <summary>One message of a chat request.</summary>
public sealed class ChatRequestMessage
{
    /// <summary>Who speaks: <c>system</c>, <c>developer</c>, <c>user</c>, <c>assistant</c> or <c>tool</c>.</summary>
    public required string Role { get; set; }

    /// <summary>The text of the message.</summary>
    public required string Content { get; set; }

    /// <summary>An optional name of the speaker.</summary>
    public string? Name { get; set; }

    /// <summary>A system message (instructions for the assistant).</summary>
    public static ChatRequestMessage System(string content) => new() { Role = "system", Content = content };

    /// <summary>A user message.</summary>
    public static ChatRequestMessage User(string content) => new() { Role = "user", Content = content };

    /// <summary>An earlier answer of the assistant.</summary>
    public static ChatRequestMessage Assistant(string content) => new() { Role = "assistant", Content = content };
}

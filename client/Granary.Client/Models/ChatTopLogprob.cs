namespace Granary.Client.Models;

/// <summary>One of the most likely tokens at a position.</summary>
public sealed class ChatTopLogprob
{
    /// <summary>The token's text.</summary>
    public string Token { get; set; } = "";

    /// <summary>Its natural-log probability.</summary>
    public float Logprob { get; set; }

    /// <summary>The token's UTF-8 bytes.</summary>
    public int[]? Bytes { get; set; }
}

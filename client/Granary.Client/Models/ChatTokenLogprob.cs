namespace Granary.Client.Models;

/// <summary>A generated token with its log-probability and the most likely alternatives.</summary>
public sealed class ChatTokenLogprob
{
    /// <summary>The token's text.</summary>
    public string Token { get; set; } = "";

    /// <summary>Its natural-log probability.</summary>
    public float Logprob { get; set; }

    /// <summary>The token's UTF-8 bytes (a token can hold part of a character).</summary>
    public int[]? Bytes { get; set; }

    /// <summary>The most likely tokens at this position.</summary>
    public List<ChatTopLogprob> TopLogprobs { get; set; } = [];
}

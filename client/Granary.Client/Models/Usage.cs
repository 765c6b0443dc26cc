namespace Granary.Client.Models;

/// <summary>Token counts of one request.</summary>
public sealed class Usage
{
    /// <summary>Tokens of the prompt(s).</summary>
    public int PromptTokens { get; set; }

    /// <summary>Tokens generated, over all choices.</summary>
    public int CompletionTokens { get; set; }

    /// <summary>Prompt plus completion tokens.</summary>
    public int TotalTokens { get; set; }

    /// <summary>How many prompt tokens came from the server's prefix cache.</summary>
    public PromptTokensDetails? PromptTokensDetails { get; set; }
}

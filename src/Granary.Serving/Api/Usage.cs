namespace Granary.Serving.Api;

/// <summary>Token counts of one request.</summary>
public sealed class Usage
{
    public int PromptTokens { get; set; }
    public int CompletionTokens { get; set; }
    public int TotalTokens { get; set; }
    public PromptTokensDetails? PromptTokensDetails { get; set; }
}

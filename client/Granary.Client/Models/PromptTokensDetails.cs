namespace Granary.Client.Models;

/// <summary><c>usage.prompt_tokens_details</c>.</summary>
public sealed class PromptTokensDetails
{
    /// <summary>Prompt tokens whose KV cache came from the prefix cache (not computed again).</summary>
    public int CachedTokens { get; set; }
}

namespace Granary.Serving.Api;

/// <summary><c>usage.prompt_tokens_details</c>: prompt tokens served from the prefix cache.</summary>
public sealed class PromptTokensDetails
{
    public int CachedTokens { get; set; }
}

using Granary.Engine;

namespace Granary.Serving;

/// <summary>A validated API request: what the engine runs and how the answer is shaped.</summary>
internal sealed class PreparedRequest
{
    public required GenerationRequest Generation { get; init; }
    public required string Model { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    /// <summary>Whether the answer carries logprobs (chat: logprobs=true; completions: logprobs set).</summary>
    public bool Logprobs { get; init; }
    public int PromptTokens => Generation.Prompts.Sum(p => p.Length);
}

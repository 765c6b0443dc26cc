namespace Granary.Client.Models;

/// <summary>A <c>POST /v1/completions</c> request: continue a prompt.</summary>
public sealed class CompletionRequest : GenerationRequest
{
    /// <summary>The prompt: a text (<c>Prompt = "Once upon a time"</c>), several texts, or token ids.</summary>
    public required CompletionPrompt Prompt { get; set; }

    /// <summary>Report the log-probability of each chosen token and of this many alternatives (0..20); null: none.</summary>
    public int? Logprobs { get; set; }
}

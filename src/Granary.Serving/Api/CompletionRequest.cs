using System.Text.Json;

namespace Granary.Serving.Api;

/// <summary>POST /v1/completions body.</summary>
public sealed class CompletionRequest : GenerationRequestBody
{
    /// <summary>A string, an array of strings, an array of token ids, or an array of token id arrays.</summary>
    public JsonElement? Prompt { get; set; }
    /// <summary>Log-probabilities of the chosen tokens and this many alternatives (0..20).</summary>
    public int? Logprobs { get; set; }
    public bool? Echo { get; set; }
}

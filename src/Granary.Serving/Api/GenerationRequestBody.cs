using System.Text.Json;

namespace Granary.Serving.Api;

/// <summary>The request fields that /v1/completions and /v1/chat/completions share (OpenAI's names, plus vLLM's sampling extras).</summary>
public abstract class GenerationRequestBody
{
    public string? Model { get; set; }
    public int? MaxTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? Seed { get; set; }
    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Stop { get; set; }
    public int? N { get; set; }
    public bool? Stream { get; set; }
    public StreamOptions? StreamOptions { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public string? User { get; set; }
    /// <summary>vLLM extra: keep the k most likely tokens (0 or -1: all).</summary>
    public int? TopK { get; set; }
    /// <summary>vLLM extra.</summary>
    public float? MinP { get; set; }
    /// <summary>vLLM extra.</summary>
    public float? RepetitionPenalty { get; set; }
    /// <summary>vLLM extra: keep generating past end-of-sequence tokens.</summary>
    public bool? IgnoreEos { get; set; }
}

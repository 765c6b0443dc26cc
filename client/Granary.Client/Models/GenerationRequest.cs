using System.Text.Json.Serialization;

namespace Granary.Client.Models;

/// <summary>
/// The request fields that <c>/v1/completions</c> and <c>/v1/chat/completions</c> share: OpenAI's names plus
/// vLLM's sampling extras. A field left null is not sent, so the server's default applies.
/// </summary>
public abstract class GenerationRequest
{
    /// <summary>Model to answer with; null uses <see cref="GranaryClientOptions.Model"/>, then the gateway's served model.</summary>
    public string? Model { get; set; }

    /// <summary>Most tokens to generate; null leaves it to the server (16 for completions, the room left in the context for chat).</summary>
    public int? MaxTokens { get; set; }

    /// <summary>Sampling temperature; 0 is greedy. Null: the server's default (1).</summary>
    public float? Temperature { get; set; }

    /// <summary>Nucleus sampling: keep the most likely tokens whose probabilities add up to this. Null: 1 (all).</summary>
    public float? TopP { get; set; }

    /// <summary>vLLM extra: keep the k most likely tokens (0 or -1: all). Null: all.</summary>
    public int? TopK { get; set; }

    /// <summary>vLLM extra: drop tokens less likely than this fraction of the most likely one. Null: 0 (off).</summary>
    public float? MinP { get; set; }

    /// <summary>vLLM extra: penalty for tokens already in the prompt or output (1 is off). Null: 1.</summary>
    public float? RepetitionPenalty { get; set; }

    /// <summary>Seed for reproducible sampling; null draws differently each time.</summary>
    public int? Seed { get; set; }

    /// <summary>Strings that end the generation when produced (not included in the text); at most 16.</summary>
    public IList<string>? Stop { get; set; }

    /// <summary>Choices to generate for the prompt (OpenAI's <c>n</c>). Null: 1.</summary>
    public int? N { get; set; }

    /// <summary>OpenAI's presence penalty; Granary accepts only 0 (use <see cref="RepetitionPenalty"/>).</summary>
    public float? PresencePenalty { get; set; }

    /// <summary>OpenAI's frequency penalty; Granary accepts only 0 (use <see cref="RepetitionPenalty"/>).</summary>
    public float? FrequencyPenalty { get; set; }

    /// <summary>vLLM extra: keep generating past end-of-sequence tokens (benchmarks). Null: false.</summary>
    public bool? IgnoreEos { get; set; }

    /// <summary>An id of the end user, passed through to the server's logs.</summary>
    public string? User { get; set; }

    /// <summary>Set by the client: the streaming methods send true, the others leave it out.</summary>
    [JsonInclude]
    internal bool? Stream { get; set; }

    /// <summary>Set by the client on streams that should end with a usage chunk.</summary>
    [JsonInclude]
    internal StreamOptions? StreamOptions { get; set; }

    /// <summary>
    /// A shallow copy with the model filled in (when the request names none) and the stream fields set, so the
    /// caller's object is never changed and can be sent again.
    /// </summary>
    internal T Prepare<T>(string? defaultModel, bool stream, bool includeUsage) where T : GenerationRequest
    {
        var copy = (T)MemberwiseClone();
        copy.Model ??= defaultModel;
        copy.Stream = stream ? true : null;
        copy.StreamOptions = stream && includeUsage ? new StreamOptions { IncludeUsage = true } : null;
        return copy;
    }
}

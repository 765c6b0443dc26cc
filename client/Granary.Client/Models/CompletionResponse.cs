using System.Text.Json.Serialization;

namespace Granary.Client.Models;

/// <summary>A <c>/v1/completions</c> answer; each chunk of a streamed completion has the same shape.</summary>
public sealed class CompletionResponse
{
    /// <summary>The completion's id (<c>cmpl-...</c>), the same on every chunk of a stream.</summary>
    public string Id { get; set; } = "";

    /// <summary>Always <c>text_completion</c>.</summary>
    public string Object { get; set; } = "text_completion";

    /// <summary>When the server created it, in Unix seconds.</summary>
    public long Created { get; set; }

    /// <summary>The model that answered.</summary>
    public string Model { get; set; } = "";

    /// <summary>The choices (one per prompt and <c>n</c>); a stream chunk carries the choice it advances.</summary>
    public List<CompletionChoice> Choices { get; set; } = [];

    /// <summary>Token counts; on a stream, only on the last chunk and only when usage was asked for.</summary>
    public Usage? Usage { get; set; }

    /// <summary>The text of the first choice (empty when there is none).</summary>
    [JsonIgnore]
    public string Text => Choices.Count > 0 ? Choices[0].Text : "";
}

using System.Text.Json.Serialization;

namespace Granary.Serving.Api;

/// <summary>A /v1/completions answer, and (with the same shape) each of its stream chunks.</summary>
public sealed class CompletionResponse
{
    public required string Id { get; set; }
    public string Object { get; set; } = "text_completion";
    public long Created { get; set; }
    public required string Model { get; set; }
    public List<CompletionChoice> Choices { get; set; } = [];
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; set; }
}

using System.Text.Json.Serialization;

namespace Granary.Serving.Api;

/// <summary>One server-sent event of a streamed chat completion.</summary>
public sealed class ChatCompletionChunk
{
    public required string Id { get; set; }
    public string Object { get; set; } = "chat.completion.chunk";
    public long Created { get; set; }
    public required string Model { get; set; }
    public List<ChatChunkChoice> Choices { get; set; } = [];
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; set; }
}

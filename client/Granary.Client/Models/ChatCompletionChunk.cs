using System.Text.Json.Serialization;

namespace Granary.Client.Models;

/// <summary>One server-sent event of a streamed chat answer.</summary>
public sealed class ChatCompletionChunk
{
    /// <summary>The answer's id, the same on every chunk.</summary>
    public string Id { get; set; } = "";

    /// <summary>Always <c>chat.completion.chunk</c>.</summary>
    public string Object { get; set; } = "chat.completion.chunk";

    /// <summary>When the server created the answer, in Unix seconds.</summary>
    public long Created { get; set; }

    /// <summary>The model that answers.</summary>
    public string Model { get; set; } = "";

    /// <summary>The choices this chunk advances (none on the usage chunk).</summary>
    public List<ChatChunkChoice> Choices { get; set; } = [];

    /// <summary>Token counts: only on the last chunk, and only when usage was asked for.</summary>
    public Usage? Usage { get; set; }

    /// <summary>The new text of the first choice in this chunk (empty when there is none).</summary>
    [JsonIgnore]
    public string ContentDelta => Choices.Count > 0 ? Choices[0].Delta.Content ?? "" : "";
}

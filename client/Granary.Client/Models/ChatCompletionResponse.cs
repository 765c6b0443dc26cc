using System.Text.Json.Serialization;

namespace Granary.Client.Models;

/// <summary>A <c>/v1/chat/completions</c> answer (not streamed).</summary>
public sealed class ChatCompletionResponse
{
    /// <summary>The answer's id (<c>chatcmpl-...</c>).</summary>
    public string Id { get; set; } = "";

    /// <summary>Always <c>chat.completion</c>.</summary>
    public string Object { get; set; } = "chat.completion";

    /// <summary>When the server created it, in Unix seconds.</summary>
    public long Created { get; set; }

    /// <summary>The model that answered.</summary>
    public string Model { get; set; } = "";

    /// <summary>The choices, one per <c>n</c>.</summary>
    public List<ChatChoice> Choices { get; set; } = [];

    /// <summary>Token counts.</summary>
    public Usage? Usage { get; set; }

    /// <summary>The content of the first choice's message (empty when there is none).</summary>
    [JsonIgnore]
    public string Content => Choices.Count > 0 ? Choices[0].Message.Content ?? "" : "";
}

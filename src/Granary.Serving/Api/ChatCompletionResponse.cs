namespace Granary.Serving.Api;

/// <summary>A /v1/chat/completions answer (not streamed).</summary>
public sealed class ChatCompletionResponse
{
    public required string Id { get; set; }
    public string Object { get; set; } = "chat.completion";
    public long Created { get; set; }
    public required string Model { get; set; }
    public List<ChatChoice> Choices { get; set; } = [];
    public Usage? Usage { get; set; }
}

namespace Granary.Serving.Api;

public sealed class ChatChunkChoice
{
    public int Index { get; set; }
    public ChatDelta Delta { get; set; } = new();
    public ChatLogprobs? Logprobs { get; set; }
    public string? FinishReason { get; set; }
}

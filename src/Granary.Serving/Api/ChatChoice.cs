namespace Granary.Serving.Api;

public sealed class ChatChoice
{
    public int Index { get; set; }
    public required ChatResponseMessage Message { get; set; }
    public ChatLogprobs? Logprobs { get; set; }
    public string? FinishReason { get; set; }
}

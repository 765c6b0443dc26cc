namespace Granary.Serving.Api;

/// <summary>POST /v1/chat/completions body.</summary>
public sealed class ChatCompletionRequest : GenerationRequestBody
{
    public List<ChatMessageBody?>? Messages { get; set; }
    public int? MaxCompletionTokens { get; set; }
    public bool? Logprobs { get; set; }
    public int? TopLogprobs { get; set; }
}

namespace Granary.Client.Models;

/// <summary>A <c>POST /v1/chat/completions</c> request: answer a conversation, rendered by the model's chat template.</summary>
public sealed class ChatCompletionRequest : GenerationRequest
{
    /// <summary>The conversation so far, oldest first.</summary>
    public required IList<ChatRequestMessage> Messages { get; set; }

    /// <summary>OpenAI's newer name for <see cref="GenerationRequest.MaxTokens"/>; wins when both are set.</summary>
    public int? MaxCompletionTokens { get; set; }

    /// <summary>Report the log-probability of each chosen token; null: no.</summary>
    public bool? Logprobs { get; set; }

    /// <summary>With <see cref="Logprobs"/>, also this many alternatives per token (0..20).</summary>
    public int? TopLogprobs { get; set; }
}

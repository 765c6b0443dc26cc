namespace Granary.Engine;

/// <summary>Why a sequence ended (the OpenAI finish_reason values).</summary>
public enum FinishReason
{
    /// <summary>An end-of-sequence token, a stop token or a stop string.</summary>
    Stop,
    /// <summary>max_tokens or the context length was reached.</summary>
    Length,
    /// <summary>The request was cancelled.</summary>
    Abort,
}

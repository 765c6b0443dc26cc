namespace Granary.Client.Models;

/// <summary>One choice of a completion (or the new text of one choice, on a stream chunk).</summary>
public sealed class CompletionChoice
{
    /// <summary>Which choice: prompt index times <c>n</c> plus the sample number.</summary>
    public int Index { get; set; }

    /// <summary>The generated text (on a stream chunk: the text since the previous chunk of this choice).</summary>
    public string Text { get; set; } = "";

    /// <summary>Log-probabilities, when the request asked for them.</summary>
    public CompletionLogprobs? Logprobs { get; set; }

    /// <summary>Why it ended: <c>stop</c> (end of sequence or a stop string), <c>length</c> (max tokens) or <c>abort</c>; null while it goes on.</summary>
    public string? FinishReason { get; set; }
}

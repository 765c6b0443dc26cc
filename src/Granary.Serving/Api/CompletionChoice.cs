namespace Granary.Serving.Api;

public sealed class CompletionChoice
{
    public int Index { get; set; }
    public string Text { get; set; } = "";
    public CompletionLogprobs? Logprobs { get; set; }
    public string? FinishReason { get; set; }
}

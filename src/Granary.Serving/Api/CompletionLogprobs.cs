namespace Granary.Serving.Api;

/// <summary>The legacy completions logprobs object.</summary>
public sealed class CompletionLogprobs
{
    public List<string> Tokens { get; set; } = [];
    public List<float> TokenLogprobs { get; set; } = [];
    public List<Dictionary<string, float>> TopLogprobs { get; set; } = [];
    public List<int> TextOffset { get; set; } = [];
}

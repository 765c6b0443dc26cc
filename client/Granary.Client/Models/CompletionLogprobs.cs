namespace Granary.Client.Models;

/// <summary>The completions API's log-probabilities: one entry per generated token in each list.</summary>
public sealed class CompletionLogprobs
{
    /// <summary>The text of each token.</summary>
    public List<string> Tokens { get; set; } = [];

    /// <summary>The natural-log probability of each token.</summary>
    public List<float> TokenLogprobs { get; set; } = [];

    /// <summary>The most likely alternatives at each position, text to log-probability.</summary>
    public List<Dictionary<string, float>> TopLogprobs { get; set; } = [];

    /// <summary>Where each token starts in the choice's text.</summary>
    public List<int> TextOffset { get; set; } = [];
}

namespace Granary.Engine;

/// <summary>A token id and its natural-log probability under the raw logits.</summary>
public readonly record struct TokenLogprob(int TokenId, float Logprob);

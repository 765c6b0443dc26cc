namespace Granary.Engine;

/// <summary>The chosen token's log-probability and the most likely alternatives at one generated position.</summary>
public sealed record GeneratedTokenLogprobs(int TokenId, float Logprob, TokenLogprob[] Top);

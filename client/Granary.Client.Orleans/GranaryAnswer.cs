namespace Granary.Client.Orleans;

/// <summary>A whole answer: its text, why it ended ("stop", "length"), and the token counts.</summary>
public sealed record GranaryAnswer(string Text, string? FinishReason, int PromptTokens, int CompletionTokens);

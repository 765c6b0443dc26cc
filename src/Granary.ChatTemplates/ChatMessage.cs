namespace Granary.ChatTemplates;

/// <summary>One chat turn, exposed to templates as the dict <c>{'role': Role, 'content': Content}</c>.</summary>
public sealed record ChatMessage(string Role, string Content);

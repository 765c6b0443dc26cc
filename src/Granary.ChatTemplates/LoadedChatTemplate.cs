namespace Granary.ChatTemplates;

/// <summary>A model's chat template with the BOS/EOS tokens from its tokenizer_config.json.</summary>
public sealed record LoadedChatTemplate(ChatTemplate Template, string? BosToken, string? EosToken)
{
    /// <summary>Renders with this model's BOS and EOS tokens and no extra variables.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        Template.Render(messages, addGenerationPrompt, BosToken, EosToken);
}

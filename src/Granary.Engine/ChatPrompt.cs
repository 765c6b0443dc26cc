using Granary.ChatTemplates;
using Granary.Tokenizers;

namespace Granary.Engine;

/// <summary>
/// The prompt of a chat: the messages rendered through the model's chat template, or, for a base model without
/// one (stories15M), their contents one per line as plain text. The server and <c>granary generate --chat</c>
/// both go through here, so they answer a chat the same way.
/// </summary>
public static class ChatPrompt
{
    /// <summary>What a model without a chat template does with a chat, for the warning its users see.</summary>
    public const string NoTemplateFallback = "it has no chat template: chat messages are sent as their contents, one per line, as plain text";

    /// <summary>Encodes the chat; throws <see cref="ChatTemplateException"/> when the template refuses the messages.</summary>
    public static int[] Encode(ITokenizer tokenizer, LoadedChatTemplate? template, IReadOnlyList<ChatMessage> messages) => template is null
        ? tokenizer.Encode(string.Join("\n", messages.Select(m => m.Content)), addSpecialTokens: true)
        // The template writes its own BOS.
        : tokenizer.Encode(template.Render(messages, addGenerationPrompt: true), addSpecialTokens: false);
}

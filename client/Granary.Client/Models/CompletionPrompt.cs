using System.Text.Json;
using System.Text.Json.Serialization;

namespace Granary.Client.Models;

/// <summary>
/// The <c>prompt</c> of a completion request, in one of the forms the API accepts: one text (tokenized by the
/// server with its special tokens, e.g. BOS), several texts (one choice each), or token ids used exactly as given.
/// A string converts to it implicitly.
/// </summary>
[JsonConverter(typeof(CompletionPromptConverter))]
public sealed class CompletionPrompt
{
    private CompletionPrompt(string? text, IReadOnlyList<string>? texts, IReadOnlyList<int>? tokenIds)
    {
        Text = text;
        Texts = texts;
        TokenIds = tokenIds;
    }

    /// <summary>The prompt text, when the prompt is one text.</summary>
    public string? Text { get; }

    /// <summary>The prompt texts, when the prompt is several texts.</summary>
    public IReadOnlyList<string>? Texts { get; }

    /// <summary>The token ids, when the prompt is token ids.</summary>
    public IReadOnlyList<int>? TokenIds { get; }

    /// <summary>One text prompt.</summary>
    public static CompletionPrompt FromText(string text) => new(text ?? throw new ArgumentNullException(nameof(text)), null, null);

    /// <summary>Several text prompts, answered as separate choices in the order given.</summary>
    public static CompletionPrompt FromTexts(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        string[] list = [.. texts];
        if (list.Length == 0) throw new ArgumentException("a completion needs at least one prompt", nameof(texts));
        return new CompletionPrompt(null, list, null);
    }

    /// <summary>A prompt of token ids, used exactly as given (no BOS is added).</summary>
    public static CompletionPrompt FromTokenIds(IEnumerable<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        int[] ids = [.. tokenIds];
        if (ids.Length == 0) throw new ArgumentException("a token id prompt must not be empty", nameof(tokenIds));
        return new CompletionPrompt(null, null, ids);
    }

    /// <summary>One text prompt.</summary>
    public static implicit operator CompletionPrompt(string text) => FromText(text);

    /// <inheritdoc/>
    public override string ToString() => Text ?? (Texts is { } t ? string.Join(" | ", t) : string.Join(",", TokenIds!));

    internal sealed class CompletionPromptConverter : JsonConverter<CompletionPrompt>
    {
        public override CompletionPrompt Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.String) return FromText(reader.GetString()!);
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("prompt must be a string or an array");
            var texts = new List<string>();
            var ids = new List<int>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType == JsonTokenType.String) texts.Add(reader.GetString()!);
                else if (reader.TokenType == JsonTokenType.Number) ids.Add(reader.GetInt32());
                else throw new JsonException("prompt arrays hold strings or token ids");
            }
            return ids.Count > 0 ? FromTokenIds(ids) : FromTexts(texts);
        }

        public override void Write(Utf8JsonWriter writer, CompletionPrompt value, JsonSerializerOptions options)
        {
            if (value.Text is { } text)
            {
                writer.WriteStringValue(text);
                return;
            }
            writer.WriteStartArray();
            if (value.Texts is { } texts)
            {
                foreach (string t in texts) writer.WriteStringValue(t);
            }
            else
            {
                foreach (int id in value.TokenIds!) writer.WriteNumberValue(id);
            }
            writer.WriteEndArray();
        }
    }
}

using System.Text.Json;
using Granary.ChatTemplates.Jinja;

namespace Granary.ChatTemplates;

/// <summary>
/// A parsed Hugging Face chat template (a Jinja2 subset), rendered the way transformers'
/// <c>apply_chat_template</c> does: sandboxed, trim_blocks and lstrip_blocks on, loop controls enabled, with the
/// globals <c>raise_exception</c>, <c>strftime_now</c>, <c>range</c>, <c>namespace</c> and transformers' <c>tojson</c>.
/// Instances are immutable and safe to render from several threads.
/// </summary>
public sealed class ChatTemplate
{
    private readonly string _source;
    private readonly List<Node> _body;

    private ChatTemplate(string source, List<Node> body)
    {
        _source = source;
        _body = body;
    }

    /// <summary>The template source text.</summary>
    public string Source => _source;

    /// <summary>Parses a template; throws <see cref="ChatTemplateException"/> (with line and column) on a syntax error.</summary>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        // Jinja normalizes newlines and, without keep_trailing_newline, drops one trailing newline of the source.
        string normalized = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (normalized.EndsWith('\n')) normalized = normalized[..^1];
        return new ChatTemplate(normalized, Parser.Parse(normalized));
    }

    /// <summary>
    /// Renders the conversation. Messages are exposed as a list of dicts <c>{role, content}</c>; the template also
    /// sees <c>add_generation_prompt</c>, <c>bos_token</c> and <c>eos_token</c> (left undefined when null), and
    /// <c>tools</c> and <c>documents</c> set to none as transformers passes them. <paramref name="extraVariables"/>
    /// are added last and override any of those; values may be strings, numbers, booleans, lists, dictionaries,
    /// <see cref="JsonElement"/> or <see cref="ChatMessage"/>. <c>strftime_now</c> uses the system clock.
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? bosToken, string? eosToken,
        IReadOnlyDictionary<string, object?>? extraVariables = null) =>
        Render(messages, addGenerationPrompt, bosToken, eosToken, extraVariables, TimeProvider.System);

    /// <summary>As <see cref="Render(IReadOnlyList{ChatMessage}, bool, string?, string?, IReadOnlyDictionary{string, object?}?)"/>,
    /// with the clock that <c>strftime_now</c> reads (local time of <paramref name="clock"/>).</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string? bosToken, string? eosToken,
        IReadOnlyDictionary<string, object?>? extraVariables, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(clock);
        var globals = new Scope(null);
        Globals.Install(globals, clock);
        var vars = new Scope(globals);
        vars.Vars["messages"] = messages.Select(m => (object?)Globals.FromDotNet(m)).ToList();
        vars.Vars["add_generation_prompt"] = addGenerationPrompt;
        if (bosToken is not null) vars.Vars["bos_token"] = bosToken;
        if (eosToken is not null) vars.Vars["eos_token"] = eosToken;
        vars.Vars["tools"] = null;
        vars.Vars["documents"] = null;
        if (extraVariables is not null)
            foreach (var kv in extraVariables) vars.Vars[kv.Key] = Globals.FromDotNet(kv.Value);
        return new Evaluator(_source).Render(_body, new Scope(vars));
    }

    /// <summary>
    /// Loads the chat template of a Hugging Face model directory: <c>chat_template.jinja</c> if present, else
    /// <c>tokenizer_config.json</c>'s <c>chat_template</c> (a string, or a list of <c>{name, template}</c> of which
    /// "default" is taken). BOS/EOS tokens come from <c>tokenizer_config.json</c> (a string or an object with
    /// "content"). Returns null when the model has no template, and for a GGUF model file given instead of a
    /// directory (its tokenizer.chat_template is not read).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="InvalidDataException">tokenizer_config.json is not valid JSON or has unexpected field types.</exception>
    /// <exception cref="ChatTemplateException">The template has a syntax error (the message names the file).</exception>
    public static LoadedChatTemplate? FromModelDirectory(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (File.Exists(dir) && dir.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return null;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"Model directory not found: {dir}");
        string configPath = Path.Combine(dir, "tokenizer_config.json");
        string jinjaPath = Path.Combine(dir, "chat_template.jinja");
        string? bos = null, eos = null, source = null, sourcePath = null;

        if (File.Exists(configPath))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(configPath));
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{configPath}: expected a JSON object");
                bos = ReadToken(root, "bos_token", configPath);
                eos = ReadToken(root, "eos_token", configPath);
                if (root.TryGetProperty("chat_template", out var ct))
                {
                    source = ReadTemplate(ct, configPath);
                    sourcePath = configPath;
                }
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{configPath}: invalid JSON: {ex.Message}", ex);
            }
        }
        if (File.Exists(jinjaPath))
        {
            source = File.ReadAllText(jinjaPath);
            sourcePath = jinjaPath;
        }
        if (source is null) return null;
        try
        {
            return new LoadedChatTemplate(Parse(source), bos, eos);
        }
        catch (ChatTemplateException ex)
        {
            throw new ChatTemplateException($"{sourcePath}: {ex.Message}", ex.Line, ex.Column, ex);
        }
    }

    private static string? ReadToken(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var t)) return null;
        return t.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => t.GetString(),
            JsonValueKind.Object when t.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new InvalidDataException($"{path}: field '{name}' must be a string or an object with a string \"content\""),
        };
    }

    private static string? ReadTemplate(JsonElement ct, string path)
    {
        switch (ct.ValueKind)
        {
            case JsonValueKind.Null: return null;
            case JsonValueKind.String: return ct.GetString();
            case JsonValueKind.Array:
                foreach (var item in ct.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Object &&
                        item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default" &&
                        item.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                        return t.GetString();
                }
                throw new InvalidDataException($"{path}: field 'chat_template' is a list of named templates without one named \"default\"");
            default:
                throw new InvalidDataException($"{path}: field 'chat_template' must be a string or a list of {{name, template}} objects");
        }
    }
}

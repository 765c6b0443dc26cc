using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Granary.ChatTemplates;
using Granary.Engine;
using Granary.Serving.Api;
using Granary.Tokenizers;

namespace Granary.Serving;

/// <summary>
/// Turns API bodies into engine requests, refusing bad ones with the status OpenAI clients expect:
/// 400 for malformed JSON, fields of the wrong type and values out of range (in plain words, as OpenAI's API says
/// them, never .NET type names), 404 for an unknown model. A request without "model" gets the served one, as vLLM does.
/// </summary>
internal sealed class RequestParser(ITokenizer tokenizer, LoadedChatTemplate? chatTemplate, int maxModelLength, IReadOnlyCollection<string> modelNames, ServeOptions options)
{
    public static T Parse<T>(byte[] body, JsonTypeInfo<T> type) where T : class
    {
        if (body.Length == 0) throw new ApiException(400, "the request body is empty; send a JSON object", code: "invalid_json");
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw new ApiException(400, "the request body is not valid UTF-8", code: "invalid_utf8");
        try
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read()) { }
        }
        catch (JsonException e)
        {
            throw new ApiException(400, $"malformed JSON: {e.Message}", code: "invalid_json");
        }
        try
        {
            return JsonSerializer.Deserialize(body, type) ?? throw new ApiException(400, "the request body must be a JSON object", code: "invalid_json");
        }
        catch (JsonException e)
        {
            throw JsonFieldError.From(e, body, type);
        }
    }

    public PreparedRequest Completion(CompletionRequest body)
    {
        string model = CheckModel(body.Model);
        if (body.Echo == true) throw new ApiException(400, "echo is not supported", "echo");
        var prompts = CompletionPrompts(body.Prompt);
        if (body.Logprobs is < 0 or > 20) throw new ApiException(400, $"logprobs must be between 0 and 20, got {body.Logprobs}", "logprobs");
        var sampling = Sampling(body, prompts, requestedMax: body.MaxTokens, defaultMax: 16, logprobs: body.Logprobs);
        return Prepare(body, model, prompts, sampling, body.Logprobs is not null);
    }

    public PreparedRequest Chat(ChatCompletionRequest body)
    {
        string model = CheckModel(body.Model);
        var prompt = ChatPromptIds(body.Messages);
        if (body.TopLogprobs is { } top && (top < 0 || top > 20)) throw new ApiException(400, $"top_logprobs must be between 0 and 20, got {top}", "top_logprobs");
        if (body.TopLogprobs is not null && body.Logprobs != true) throw new ApiException(400, "top_logprobs needs logprobs set to true", "top_logprobs");
        int? logprobs = body.Logprobs == true ? body.TopLogprobs ?? 0 : null;
        var sampling = Sampling(body, [prompt], requestedMax: body.MaxCompletionTokens ?? body.MaxTokens, defaultMax: int.MaxValue, logprobs);
        return Prepare(body, model, [prompt], sampling, logprobs is not null);
    }

    private PreparedRequest Prepare(GenerationRequestBody body, string model, int[][] prompts, SamplingParams sampling, bool logprobs)
    {
        int n = body.N ?? 1;
        return new PreparedRequest
        {
            Generation = new GenerationRequest { Prompts = prompts, Sampling = sampling, N = n, Stream = body.Stream == true },
            Model = model,
            Stream = body.Stream == true,
            IncludeUsage = body.StreamOptions?.IncludeUsage == true,
            Logprobs = logprobs,
        };
    }

    /// <summary>Whether <paramref name="model"/> names the served model (its served name, model name or folder).</summary>
    public bool Serves(string model) => modelNames.Contains(model);

    private string CheckModel(string? model)
    {
        string served = modelNames.First();
        if (string.IsNullOrEmpty(model)) return served;
        if (!Serves(model)) throw new ApiException(404, $"The model '{model}' does not exist. This server serves '{served}'.", "model", "model_not_found");
        return served;
    }

    private SamplingParams Sampling(GenerationRequestBody body, int[][] prompts, int? requestedMax, int defaultMax, int? logprobs)
    {
        int n = body.N ?? 1;
        if (n < 1) throw new ApiException(400, $"n must be at least 1, got {n}", "n");
        if ((long)n * prompts.Length > options.MaxChoices) throw new ApiException(400, $"n times the number of prompts is {(long)n * prompts.Length}; at most {options.MaxChoices} choices per request", "n");
        if (body.Temperature is { } t && !(t >= 0)) throw new ApiException(400, $"temperature must be >= 0, got {t}", "temperature");
        if (body.PresencePenalty is { } pp && pp != 0) throw new ApiException(400, "presence_penalty is not supported (use repetition_penalty)", "presence_penalty");
        if (body.FrequencyPenalty is { } fp && fp != 0) throw new ApiException(400, "frequency_penalty is not supported (use repetition_penalty)", "frequency_penalty");
        if (body.TopK is < -1) throw new ApiException(400, $"top_k must be -1, 0 (all) or positive, got {body.TopK}", "top_k");

        int longest = prompts.Max(p => p.Length);
        if (longest >= maxModelLength)
            throw new ApiException(400, $"This model's maximum context length is {maxModelLength} tokens. However, your prompt has {longest} tokens, leaving no room for the answer.", "messages", "context_length_exceeded");
        int room = maxModelLength - longest;
        int maxTokens;
        if (requestedMax is { } requested)
        {
            if (requested < 1) throw new ApiException(400, $"max_tokens must be at least 1, got {requested}", "max_tokens");
            if (requested > room)
                throw new ApiException(400, $"This model's maximum context length is {maxModelLength} tokens. However, you requested {longest + requested} tokens ({longest} in the prompt, {requested} in the completion).", "max_tokens", "context_length_exceeded");
            maxTokens = requested;
        }
        else maxTokens = Math.Min(defaultMax, room);

        var sampling = new SamplingParams
        {
            Temperature = body.Temperature ?? 1f,
            TopP = body.TopP ?? 1f,
            TopK = body.TopK is null or -1 ? 0 : body.TopK.Value,
            MinP = body.MinP ?? 0f,
            RepetitionPenalty = body.RepetitionPenalty ?? 1f,
            Seed = body.Seed,
            MaxTokens = maxTokens,
            Stop = StopStrings(body.Stop),
            IgnoreEos = body.IgnoreEos == true,
            Logprobs = logprobs,
        };
        try
        {
            sampling.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ApiException(400, e.Message, e.Message.Split(' ')[0]);
        }
        return sampling;
    }

    /// <summary>OpenAI's limit on stop sequences.</summary>
    private const int MaxStopStrings = 4;

    private static string[] StopStrings(JsonElement? stop)
    {
        if (stop is not { } s || s.ValueKind == JsonValueKind.Null) return [];
        if (s.ValueKind == JsonValueKind.String) return [s.GetString()!];
        if (s.ValueKind != JsonValueKind.Array) throw new ApiException(400, "stop must be a string or an array of strings", "stop", "invalid_type");
        var list = new List<string>();
        foreach (var item in s.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw new ApiException(400, "stop must be a string or an array of strings", "stop", "invalid_type");
            list.Add(item.GetString()!);
        }
        if (list.Count > MaxStopStrings) throw new ApiException(400, $"stop may hold at most {MaxStopStrings} strings, got {list.Count}", "stop");
        return [.. list];
    }

    private int[][] CompletionPrompts(JsonElement? prompt)
    {
        if (prompt is not { } p || p.ValueKind == JsonValueKind.Null) throw new ApiException(400, "prompt is required", "prompt");
        if (p.ValueKind == JsonValueKind.String) return [Encode(p.GetString()!)];
        if (p.ValueKind != JsonValueKind.Array) throw new ApiException(400, "prompt must be a string, an array of strings, an array of token ids or an array of token id arrays", "prompt", "invalid_type");
        if (p.GetArrayLength() == 0) throw new ApiException(400, "prompt must not be empty", "prompt");
        var first = p[0].ValueKind;
        if (first == JsonValueKind.Number) return [Ids(p)];
        var prompts = new List<int[]>();
        foreach (var item in p.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && first == JsonValueKind.String) prompts.Add(Encode(item.GetString()!));
            else if (item.ValueKind == JsonValueKind.Array && first == JsonValueKind.Array) prompts.Add(Ids(item));
            else throw new ApiException(400, "prompt must be a string, an array of strings, an array of token ids or an array of token id arrays", "prompt", "invalid_type");
        }
        return [.. prompts];
    }

    private int[] Encode(string text) => tokenizer.Encode(text, addSpecialTokens: true);

    private int[] Ids(JsonElement array)
    {
        if (array.GetArrayLength() == 0) throw new ApiException(400, "a token id prompt must not be empty", "prompt");
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id)) throw new ApiException(400, "token ids must be integers", "prompt", "invalid_type");
            if ((uint)id >= (uint)tokenizer.VocabSize) throw new ApiException(400, $"token id {id} is outside the vocabulary of {tokenizer.VocabSize}", "prompt");
            ids[i++] = id;
        }
        return ids;
    }

    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    private int[] ChatPromptIds(List<ChatMessageBody?>? messages)
    {
        if (messages is null || messages.Count == 0) throw new ApiException(400, "messages must be a non-empty array", "messages");
        var list = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw new ApiException(400, $"messages[{i}] is null", $"messages[{i}]");
            if (m.Role is null || !Roles.Contains(m.Role)) throw new ApiException(400, $"messages[{i}].role must be one of system, developer, user, assistant, tool; got '{m.Role}'", $"messages[{i}].role");
            list.Add(new ChatMessage(m.Role == "developer" ? "system" : m.Role, Content(m.Content, i)));
        }
        try
        {
            return ChatPrompt.Encode(tokenizer, chatTemplate, list);
        }
        catch (ChatTemplateException e)
        {
            throw new ApiException(400, $"the chat template refused the messages: {e.Message}", "messages");
        }
    }

    private static string Content(JsonElement? content, int index)
    {
        if (content is not { } c || c.ValueKind == JsonValueKind.Null) return "";
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind == JsonValueKind.Array)
        {
            var text = new System.Text.StringBuilder();
            foreach (var part in c.EnumerateArray())
            {
                if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                    throw new ApiException(400, $"messages[{index}].content parts must be objects with a type", $"messages[{index}].content", "invalid_type");
                if (type.GetString() != "text") throw new ApiException(400, $"content part type '{type.GetString()}' is not supported (only text)", $"messages[{index}].content");
                if (!part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                    throw new ApiException(400, $"messages[{index}].content text part needs a string 'text'", $"messages[{index}].content", "invalid_type");
                text.Append(t.GetString());
            }
            return text.ToString();
        }
        throw new ApiException(400, $"messages[{index}].content must be a string or an array of content parts", $"messages[{index}].content", "invalid_type");
    }
}

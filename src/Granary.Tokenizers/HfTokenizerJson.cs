using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Granary.Tokenizers.Models;
using Granary.Tokenizers.Normalization;
using Granary.Tokenizers.PreTokenization;

namespace Granary.Tokenizers;

/// <summary>Builds a <see cref="Tokenizer"/> from a Hugging Face tokenizer.json (BPE models).</summary>
internal static class HfTokenizerJson
{
    public static Tokenizer Load(string path, string? configPath, string? generationConfigPath)
    {
        using var doc = ParseJson(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw Invalid(path, "the root is not a JSON object");
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object) throw Invalid(path, "missing 'model'");
        string modelType = Str(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "(none)");
        if (modelType != "BPE") throw new NotSupportedException($"{path}: unsupported tokenizer model type '{modelType}' (only BPE is supported)");

        // Vocabulary and added tokens.
        if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object) throw Invalid(path, "model.vocab is missing or not an object");
        var modelVocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int maxId = -1;
        foreach (var p in vocabEl.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0) throw Invalid(path, $"model.vocab['{p.Name}'] is not a valid id");
            modelVocab[p.Name] = id;
            maxId = Math.Max(maxId, id);
        }
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedEl) && addedEl.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in addedEl.EnumerateArray())
            {
                string content = Str(t, "content") ?? throw Invalid(path, "an added token has no 'content'");
                if (!t.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out int id) || id < 0) throw Invalid(path, $"added token '{content}' has no valid 'id'");
                added.Add(new AddedToken(id, content, Bool(t, "special"), Bool(t, "single_word"), Bool(t, "lstrip"), Bool(t, "rstrip")));
                maxId = Math.Max(maxId, id);
            }
        }
        if (maxId > 10_000_000) throw Invalid(path, $"token id {maxId} is implausibly large");
        var pieces = new string?[maxId + 1];
        var special = new bool[maxId + 1];
        foreach (var (tok, id) in modelVocab) pieces[id] = tok;
        var pieceToId = new Dictionary<string, int>(modelVocab, StringComparer.Ordinal);
        foreach (var a in added)
        {
            pieces[a.Id] = a.Content;
            special[a.Id] = a.Special;
            pieceToId[a.Content] = a.Id;
        }

        // Pipeline components.
        var normalizer = root.TryGetProperty("normalizer", out var normEl) ? ParseNormalizer(normEl, path) : null;
        var preTokenizer = root.TryGetProperty("pre_tokenizer", out var preEl) ? ParsePreTokenizer(preEl, path) : null;
        bool byteLevel = preTokenizer?.IsByteLevel ?? false;

        var merges = ParseMerges(model, path);
        string? unk = Str(model, "unk_token");
        int unkId = unk is not null && modelVocab.TryGetValue(unk, out int u) ? u : -1;
        var bpe = new BpeModel(modelVocab, BpeModel.MergesFromRanks(merges, modelVocab, path), byteLevel,
            Bool(model, "byte_fallback"), unkId, Bool(model, "fuse_unk"), Bool(model, "ignore_merges"));

        var (prefix, suffix) = root.TryGetProperty("post_processor", out var postEl) ? ParsePostProcessor(postEl, pieceToId, path) : ([], []);
        var decoder = root.TryGetProperty("decoder", out var decEl) ? ParseDecoder(decEl, path) : new DecoderSpec();
        var tokenBytes = new byte[pieces.Length][];
        for (int id = 0; id < pieces.Length; id++) tokenBytes[id] = decoder.TokenBytes(pieces[id] ?? "");

        // Special token names and BOS/EOS handling from tokenizer_config.json / generation_config.json.
        int? bos = prefix.Length > 0 && special.Length > prefix[0] && special[prefix[0]] ? prefix[0] : null;
        var eos = new List<int>();
        if (configPath is not null)
        {
            using var cfg = ParseJson(configPath);
            var c = cfg.RootElement;
            bos = TokenName(c, "bos_token") is { } bn ? (pieceToId.TryGetValue(bn, out int b) ? b : throw Invalid(configPath, $"bos_token '{bn}' is not in the vocabulary")) : null;
            if (TokenName(c, "eos_token") is { } en)
                eos.Add(pieceToId.TryGetValue(en, out int e) ? e : throw Invalid(configPath, $"eos_token '{en}' is not in the vocabulary"));
            if (c.TryGetProperty("add_bos_token", out var ab) && ab.ValueKind is JsonValueKind.True or JsonValueKind.False && bos is int bosId)
                prefix = ab.GetBoolean() ? (prefix.Contains(bosId) ? prefix : [bosId, .. prefix]) : prefix.Where(x => x != bosId).ToArray();
            if (c.TryGetProperty("add_eos_token", out var ae) && ae.ValueKind is JsonValueKind.True or JsonValueKind.False && eos.Count > 0)
                suffix = ae.GetBoolean() ? (suffix.Contains(eos[0]) ? suffix : [.. suffix, eos[0]]) : suffix.Where(x => x != eos[0]).ToArray();
        }
        if (generationConfigPath is not null)
        {
            using var gen = ParseJson(generationConfigPath);
            if (gen.RootElement.ValueKind == JsonValueKind.Object && gen.RootElement.TryGetProperty("eos_token_id", out var ge))
            {
                foreach (var v in ge.ValueKind == JsonValueKind.Array ? ge.EnumerateArray().ToArray() : [ge])
                    if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int id) && id >= 0 && id < pieces.Length && !eos.Contains(id)) eos.Add(id);
            }
        }

        return new Tokenizer(path, pieces, pieceToId, tokenBytes, special, added, normalizer, preTokenizer, bpe,
            prefix, suffix, bos, eos, decoder.LeadingSpaceRule);
    }

    private static JsonDocument ParseJson(string path)
    {
        try
        {
            using var fs = File.OpenRead(path);
            return JsonDocument.Parse(fs, new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 256 });
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: malformed JSON: {e.Message}", e); }
        catch (FileNotFoundException e) { throw new FileNotFoundException($"tokenizer file not found: {path}", path, e); }
    }

    private static InvalidDataException Invalid(string path, string message) => new($"{path}: {message}");

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name, bool fallback = false) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => fallback,
        } : fallback;

    /// <summary>A special token in tokenizer_config.json: a string or an AddedToken object with "content".</summary>
    private static string? TokenName(JsonElement config, string name)
    {
        if (config.ValueKind != JsonValueKind.Object || !config.TryGetProperty(name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object => Str(v, "content"),
            _ => null,
        };
    }

    private static List<(string, string)> ParseMerges(JsonElement model, string path)
    {
        var list = new List<(string, string)>();
        if (!model.TryGetProperty("merges", out var m) || m.ValueKind == JsonValueKind.Null) return list;
        if (m.ValueKind != JsonValueKind.Array) throw Invalid(path, "model.merges is not an array");
        foreach (var e in m.EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.String)
            {
                string s = e.GetString()!;
                int sp = s.IndexOf(' ', 1);
                if (sp < 0) throw Invalid(path, $"merge '{s}' is not of the form 'a b'");
                list.Add((s[..sp], s[(sp + 1)..]));
            }
            else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2 && e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String)
                list.Add((e[0].GetString()!, e[1].GetString()!));
            else throw Invalid(path, $"merge {e.GetRawText()} is neither 'a b' nor [a, b]");
        }
        return list;
    }

    private static Regex PatternRegex(JsonElement e, string path, string what)
    {
        if (!e.TryGetProperty("pattern", out var p)) throw Invalid(path, $"{what} has no pattern");
        if (Str(p, "String") is { } lit) return PreTokenizerPatterns.Compile(Regex.Escape(lit));
        if (Str(p, "Regex") is { } rx)
        {
            try { return PreTokenizerPatterns.Compile(rx); }
            catch (ArgumentException ex) { throw new NotSupportedException($"{path}: {what} regex is not supported by .NET: {rx} ({ex.Message})", ex); }
        }
        throw Invalid(path, $"{what} pattern is neither String nor Regex");
    }

    private static Normalizer? ParseNormalizer(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Null) return null;
        string type = Str(e, "type") ?? throw Invalid(path, "normalizer without 'type'");
        switch (type)
        {
            case "Sequence":
                return new SequenceNormalizer(e.GetProperty("normalizers").EnumerateArray().Select(n => ParseNormalizer(n, path)).OfType<Normalizer>().ToArray());
            case "Prepend": return new PrependNormalizer(Str(e, "prepend") ?? "");
            case "Replace":
            {
                string content = Str(e, "content") ?? "";
                var p = e.GetProperty("pattern");
                return Str(p, "String") is { } lit ? new ReplaceNormalizer(lit, null, content) : new ReplaceNormalizer(null, PatternRegex(e, path, "Replace normalizer"), content);
            }
            case "NFC": return new UnicodeFormNormalizer(NormalizationForm.FormC);
            case "NFD": return new UnicodeFormNormalizer(NormalizationForm.FormD);
            case "NFKC": return new UnicodeFormNormalizer(NormalizationForm.FormKC);
            case "NFKD": return new UnicodeFormNormalizer(NormalizationForm.FormKD);
            case "Lowercase": return new LowercaseNormalizer();
            case "Strip": return new StripNormalizer(Bool(e, "strip_left", true), Bool(e, "strip_right", true));
            default: throw new NotSupportedException($"{path}: unsupported normalizer type '{type}'");
        }
    }

    private static PreTokenizer? ParsePreTokenizer(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Null) return null;
        string type = Str(e, "type") ?? throw Invalid(path, "pre_tokenizer without 'type'");
        switch (type)
        {
            case "Sequence":
                return new SequencePreTokenizer(e.GetProperty("pretokenizers").EnumerateArray().Select(p => ParsePreTokenizer(p, path)).OfType<PreTokenizer>().ToArray());
            case "ByteLevel": return new ByteLevelPreTokenizer(Bool(e, "add_prefix_space", true), Bool(e, "use_regex", true));
            case "Split":
            {
                var behavior = (Str(e, "behavior") ?? "Isolated") switch
                {
                    "Removed" => SplitBehavior.Removed,
                    "Isolated" => SplitBehavior.Isolated,
                    "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
                    "MergedWithNext" => SplitBehavior.MergedWithNext,
                    "Contiguous" => SplitBehavior.Contiguous,
                    var b => throw Invalid(path, $"unknown Split behavior '{b}'"),
                };
                return new RegexSplitPreTokenizer(PatternRegex(e, path, "Split pre-tokenizer"), behavior, Bool(e, "invert"));
            }
            case "Metaspace":
            {
                string repl = Str(e, "replacement") ?? "\u2581";
                string scheme = Str(e, "prepend_scheme") ?? (Bool(e, "add_prefix_space", true) ? "always" : "never");
                return new MetaspacePreTokenizer(repl.Length == 1 ? repl[0] : '\u2581', scheme, Bool(e, "split", true));
            }
            case "Digits":
                return new RegexSplitPreTokenizer(PreTokenizerPatterns.Compile(Bool(e, "individual_digits") ? "[0-9]" : "[0-9]+"), SplitBehavior.Isolated, false);
            case "Whitespace":
                return new RegexSplitPreTokenizer(PreTokenizerPatterns.Compile(@"\w+|[^\w\s]+"), SplitBehavior.Removed, invert: true);
            case "WhitespaceSplit":
                return new RegexSplitPreTokenizer(PreTokenizerPatterns.Compile(@"\s+"), SplitBehavior.Removed, false);
            case "Punctuation":
                return new RegexSplitPreTokenizer(PreTokenizerPatterns.Compile(@"\p{P}"), SplitBehavior.Isolated, false);
            default: throw new NotSupportedException($"{path}: unsupported pre_tokenizer type '{type}'");
        }
    }

    private static (int[] Prefix, int[] Suffix) ParsePostProcessor(JsonElement e, Dictionary<string, int> pieceToId, string path)
    {
        if (e.ValueKind == JsonValueKind.Null) return ([], []);
        string type = Str(e, "type") ?? throw Invalid(path, "post_processor without 'type'");
        switch (type)
        {
            case "ByteLevel": return ([], []);
            case "Sequence":
            {
                var pre = new List<int>();
                var suf = new List<int>();
                foreach (var p in e.GetProperty("processors").EnumerateArray())
                {
                    var (a, b) = ParsePostProcessor(p, pieceToId, path);
                    pre.AddRange(a);
                    suf.AddRange(b);
                }
                return (pre.ToArray(), suf.ToArray());
            }
            case "TemplateProcessing":
            {
                var pre = new List<int>();
                var suf = new List<int>();
                bool seenSequence = false;
                foreach (var item in e.GetProperty("single").EnumerateArray())
                {
                    if (item.TryGetProperty("Sequence", out _)) { seenSequence = true; continue; }
                    if (!item.TryGetProperty("SpecialToken", out var st)) throw Invalid(path, $"template item {item.GetRawText()} is not understood");
                    string name = Str(st, "id") ?? throw Invalid(path, "template special token without id");
                    var ids = new List<int>();
                    if (e.TryGetProperty("special_tokens", out var map) && map.TryGetProperty(name, out var def) && def.TryGetProperty("ids", out var idsEl))
                        ids.AddRange(idsEl.EnumerateArray().Select(x => x.GetInt32()));
                    else if (pieceToId.TryGetValue(name, out int id)) ids.Add(id);
                    else throw Invalid(path, $"template special token '{name}' is not defined");
                    (seenSequence ? suf : pre).AddRange(ids);
                }
                return (pre.ToArray(), suf.ToArray());
            }
            case "BertProcessing":
            case "RobertaProcessing":
            {
                int Id(string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 2 ? v[1].GetInt32()
                    : throw Invalid(path, $"{type} without '{key}'");
                return ([Id("cls")], [Id("sep")]);
            }
            default: throw new NotSupportedException($"{path}: unsupported post_processor type '{type}'");
        }
    }

    private static DecoderSpec ParseDecoder(JsonElement e, string path)
    {
        var spec = new DecoderSpec();
        AddDecoder(spec, e, path);
        return spec;
    }

    private static void AddDecoder(DecoderSpec spec, JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Null) return;
        string type = Str(e, "type") ?? throw Invalid(path, "decoder without 'type'");
        switch (type)
        {
            case "Sequence":
                foreach (var d in e.GetProperty("decoders").EnumerateArray()) AddDecoder(spec, d, path);
                break;
            case "ByteLevel": spec.ByteLevel = true; break;
            case "ByteFallback": spec.ByteFallback = true; break;
            case "Fuse": spec.Fused = true; break;
            case "Replace":
            {
                var p = e.GetProperty("pattern");
                string content = Str(e, "content") ?? "";
                if (Str(p, "String") is { } lit) spec.Steps.Add(t => t.Replace(lit, content, StringComparison.Ordinal));
                else { var rx = PatternRegex(e, path, "Replace decoder"); spec.Steps.Add(t => rx.Replace(t, content.Replace("$", "$$"))); }
                break;
            }
            case "Strip":
            {
                string content = Str(e, "content") ?? " ";
                int start = e.TryGetProperty("start", out var s) ? s.GetInt32() : 0;
                int stop = e.TryGetProperty("stop", out var st) ? st.GetInt32() : 0;
                if (spec.Fused && content == " " && stop == 0)
                {
                    if (start > 0) spec.LeadingSpaceRule = LeadingSpaceRule.StripOneLeadingSpace;
                }
                else if (!spec.Fused && content.Length == 1)
                {
                    char c = content[0];
                    spec.Steps.Add(t =>
                    {
                        int a = 0, b = t.Length;
                        while (a < b && a < start && t[a] == c) a++;
                        while (b > a && t.Length - b < stop && t[b - 1] == c) b--;
                        return t[a..b];
                    });
                }
                else throw new NotSupportedException($"{path}: unsupported Strip decoder (content '{content}', start {start}, stop {stop})");
                break;
            }
            case "Metaspace":
            {
                string repl = Str(e, "replacement") ?? "\u2581";
                string scheme = Str(e, "prepend_scheme") ?? (Bool(e, "add_prefix_space", true) ? "always" : "never");
                spec.Steps.Add(t => t.Replace(repl, " ", StringComparison.Ordinal));
                if (scheme != "never") spec.LeadingSpaceRule = LeadingSpaceRule.DropSpacesOfFirstToken;
                break;
            }
            default: throw new NotSupportedException($"{path}: unsupported decoder type '{type}'");
        }
    }

    /// <summary>The decoder chain reduced to what each token contributes, plus the rule for the output's start.</summary>
    private sealed class DecoderSpec
    {
        public readonly List<Func<string, string>> Steps = new();
        public bool ByteLevel, ByteFallback, Fused;
        public LeadingSpaceRule LeadingSpaceRule = LeadingSpaceRule.None;

        public byte[] TokenBytes(string token)
        {
            if (ByteFallback && token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b))
                return [b];
            foreach (var step in Steps) token = step(token);
            if (ByteLevel)
            {
                var bytes = new List<byte>(token.Length);
                if (ByteLevelAlphabet.TryDecode(token, bytes)) return bytes.ToArray();
            }
            return Encoding.UTF8.GetBytes(token);
        }
    }
}

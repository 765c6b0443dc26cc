using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Granary.Tokenizers.PreTokenization;

/// <summary>
/// Pre-tokenizer regexes: GPT-2's, and llama.cpp's per <c>tokenizer.ggml.pre</c> family (llama-vocab.cpp), written
/// for .NET (<c>$</c> as <c>\z</c>; classes with characters beyond U+FFFF rewritten as UTF-16 alternations).
/// Compiled once and cached.
/// </summary>
internal static class PreTokenizerPatterns
{
    private static readonly ConcurrentDictionary<string, Regex> s_cache = new(StringComparer.Ordinal);

    /// <summary>HF ByteLevel's GPT-2 regex.</summary>
    public const string Gpt2WithTrailingSpace = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>llama.cpp's GPT-2 regex (text it leaves unmatched stays a piece of its own).</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

    private const string Contractions = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    public const string Llama3 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen2 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen35 = Contractions + @"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Bloom = @" ?[^(\s|.,!?…。，、।۔،)]+";
    public const string Gpt4o = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Tekken = @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string DeepSeekLetters = "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
    private const string DeepSeekPunct = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
    private const string CjkRuns = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

    /// <summary>
    /// llama.cpp's regex list for a <c>tokenizer.ggml.pre</c> value, and whether that family ignores merges for
    /// pre-tokens already in the vocabulary; null for an unknown family.
    /// </summary>
    public static (string[] Regexes, bool IgnoreMerges)? ForGgufPre(string? pre) => (pre ?? "default") switch
    {
        "default" => ([@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"], false),
        "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" or "midm-2.0" or "lfm2" => ([Llama3], true),
        "dbrx" or "smaug-bpe" or "chatglm-bpe" => ([Llama3], false),
        "deepseek-llm" => (["[\r\n]", DeepSeekLetters, DeepSeekPunct, @"\s+\z", CjkRuns, @"\p{N}+"], false),
        "deepseek-coder" => (["[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", CjkRuns, @"\p{N}"], false),
        "deepseek-v3" => ([@"\p{N}{1,3}", "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
            @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"], false),
        "falcon" => ([@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"], false),
        "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" or "minerva-7b" => ([@"\p{N}", Gpt2], false),
        "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v1-en" or "jina-v2-es" or "jina-v2-de" or "jina-v2-code"
            or "roberta-bpe" or "mpt" or "olmo" or "jais" or "trillion" or "granite-docling" => ([Gpt2], false),
        "stablelm2" or "qwen2" or "deepseek-r1-qwen" or "hunyuan" => ([Qwen2], false),
        "qwen35" => ([Qwen35], false),
        "poro-chat" or "bloom" or "gpt3-finnish" => ([Bloom], false),
        "viking" => ([Bloom, @"\p{N}"], false),
        "tekken" => ([Tekken], false),
        "gpt-4o" or "minimax-m2" => ([Gpt4o], false),
        _ => null,
    };

    /// <summary>Compiles (once) a regex written with code points: character classes that contain characters
    /// beyond U+FFFF are rewritten for .NET's UTF-16 matching.</summary>
    public static Regex Compile(string pattern) =>
        s_cache.GetOrAdd(pattern, static p => new Regex(RewriteAstralClasses(p), RegexOptions.Compiled | RegexOptions.CultureInvariant));

    /// <summary>Rewrites <c>[...]</c> classes holding supplementary-plane characters or ranges as
    /// <c>(?:[bmp part]|\uD801[\uDC00-\uDC4F]|...)</c>. Negated classes with such characters are not supported.</summary>
    internal static string RewriteAstralClasses(string pattern)
    {
        if (!pattern.Any(char.IsSurrogate)) return pattern;
        var sb = new StringBuilder(pattern.Length * 2);
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length) { sb.Append(c).Append(pattern[i + 1]); i += 2; continue; }
            if (c != '[') { sb.Append(c); i++; continue; }
            int end = FindClassEnd(pattern, i);
            string body = pattern.Substring(i + 1, end - i - 1);
            if (!body.Any(char.IsSurrogate)) { sb.Append(pattern, i, end - i + 1); i = end + 1; continue; }
            if (body.StartsWith('^')) throw new ArgumentException($"negated character class with characters beyond U+FFFF is not supported: {pattern}");
            var bmp = new StringBuilder();
            var alternatives = new List<string>();
            int j = 0;
            while (j < body.Length)
            {
                if (body[j] == '\\' && j + 1 < body.Length)
                {
                    // escapes such as \p{L} or \s stay in the BMP class
                    int escEnd = j + 2;
                    if (body[j + 1] is 'p' or 'P' && escEnd < body.Length && body[escEnd] == '{') escEnd = body.IndexOf('}', escEnd) + 1;
                    bmp.Append(body, j, escEnd - j);
                    j = escEnd;
                    continue;
                }
                int lo = char.ConvertToUtf32(body, j);
                j += lo > 0xFFFF ? 2 : 1;
                int hi = lo;
                if (j + 1 < body.Length && body[j] == '-')
                {
                    hi = char.ConvertToUtf32(body, j + 1);
                    j += 1 + (hi > 0xFFFF ? 2 : 1);
                }
                if (hi <= 0xFFFF) { AppendClassChar(bmp, lo); if (hi != lo) { bmp.Append('-'); AppendClassChar(bmp, hi); } }
                else
                {
                    if (lo <= 0xFFFF) { AppendClassChar(bmp, lo); bmp.Append('-'); AppendClassChar(bmp, 0xFFFF); lo = 0x10000; }
                    AddAstralRange(alternatives, lo, hi);
                }
            }
            sb.Append("(?:");
            if (bmp.Length > 0) { sb.Append('[').Append(bmp).Append(']'); if (alternatives.Count > 0) sb.Append('|'); }
            sb.Append(string.Join('|', alternatives)).Append(')');
            i = end + 1;
        }
        return sb.ToString();
    }

    private static int FindClassEnd(string p, int open)
    {
        int i = open + 1;
        if (i < p.Length && p[i] == '^') i++;
        if (i < p.Length && p[i] == ']') i++;
        for (; i < p.Length; i++)
        {
            if (p[i] == '\\') { i++; continue; }
            if (p[i] == ']') return i;
        }
        throw new ArgumentException($"unterminated character class in regex: {p}");
    }

    private static void AppendClassChar(StringBuilder sb, int cp)
    {
        if (cp is '\\' or ']' or '[' or '^' or '-') sb.Append('\\');
        sb.Append((char)cp);
    }

    private static void AddAstralRange(List<string> alternatives, int lo, int hi)
    {
        for (int cp = lo; cp <= hi;)
        {
            string s = char.ConvertFromUtf32(cp);
            char high = s[0];
            int blockEnd = Math.Min(hi, ((cp - 0x10000) | 0x3FF) + 0x10000); // last code point with this high surrogate
            char lowStart = s[1], lowEnd = char.ConvertFromUtf32(blockEnd)[1];
            alternatives.Add(lowStart == lowEnd ? $"\\u{(int)high:X4}\\u{(int)lowStart:X4}" : $"\\u{(int)high:X4}[\\u{(int)lowStart:X4}-\\u{(int)lowEnd:X4}]");
            cp = blockEnd + 1;
        }
    }
}

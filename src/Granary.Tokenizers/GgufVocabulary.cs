using System.Text;
using Granary.Tokenizers.Gguf;
using Granary.Tokenizers.Models;
using Granary.Tokenizers.Normalization;
using Granary.Tokenizers.PreTokenization;

namespace Granary.Tokenizers;

/// <summary>
/// Builds a <see cref="Tokenizer"/> from GGUF tokenizer metadata, following llama.cpp (llama-vocab.cpp):
/// <c>tokenizer.ggml.model</c> "llama" (SentencePiece BPE by scores, byte fallback, leading space) and "gpt2"
/// (byte-level BPE by <c>tokenizer.ggml.merges</c>, pre-tokenizer regexes by <c>tokenizer.ggml.pre</c>).
/// </summary>
internal static class GgufVocabulary
{
    // llama.cpp token types (tokenizer.ggml.token_type)
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    // Texts llama.cpp treats as end-of-turn (and control) when the file names no EOT token.
    private static readonly string[] s_eotTexts =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"];

    public static Tokenizer Load(GgufFile gguf)
    {
        string src = gguf.Source;
        string model = gguf.GetString("tokenizer.ggml.model") ?? throw new InvalidDataException($"{src}: no tokenizer.ggml.model (not a vocabulary file?)");
        bool spm = model switch
        {
            "llama" => true,
            "gpt2" => false,
            _ => throw new NotSupportedException($"{src}: unsupported tokenizer model '{model}' (supported: llama, gpt2)"),
        };
        string[] tokens = gguf.GetArray<string>("tokenizer.ggml.tokens") ?? throw new InvalidDataException($"{src}: no tokenizer.ggml.tokens");
        int n = tokens.Length;
        float[] scores = ReadScores(gguf, n);
        int[] types = gguf.GetArray<int>("tokenizer.ggml.token_type") ?? Enumerable.Repeat(Normal, n).ToArray();
        if (types.Length < n) throw new InvalidDataException($"{src}: tokenizer.ggml.token_type has {types.Length} entries for {n} tokens");
        types = types[..n];

        var pieces = new string?[n];
        var pieceToId = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            string t = tokens[i].Length == 0 ? $"[EMPTY_{i}]" : tokens[i];
            pieces[i] = t;
            pieceToId[t] = i; // duplicates: the last wins, as in llama.cpp
        }

        int? Id(string key)
        {
            long? v = gguf.GetInt64(key);
            return v is >= 0 && v < n ? (int)v : null;
        }
        int? bos = Id("tokenizer.ggml.bos_token_id") ?? (spm ? 1 : null);
        int? eos = Id("tokenizer.ggml.eos_token_id") ?? (spm ? 2 : null);
        int? unk = Id("tokenizer.ggml.unknown_token_id") ?? (spm && n > 0 ? 0 : null);
        int? eot = Id("tokenizer.ggml.eot_token_id");
        int? eom = Id("tokenizer.ggml.eom_token_id");
        if (eot is null)
        {
            foreach (string t in s_eotTexts)
            {
                if (pieceToId.TryGetValue(t, out int id))
                {
                    eot = id;
                    types[id] = Control;
                    break;
                }
            }
        }
        var eosIds = new List<int>();
        foreach (int? id in new[] { eos, eot, eom })
            if (id is int v && !eosIds.Contains(v)) eosIds.Add(v);

        string pre = gguf.GetString("tokenizer.ggml.pre") ?? "default";
        (string[] Regexes, bool IgnoreMerges)? patterns = spm ? null : PreTokenizerPatterns.ForGgufPre(pre)
            ?? throw new NotSupportedException($"{src}: unsupported pre-tokenizer type tokenizer.ggml.pre = '{pre}'");
        bool addBos = gguf.GetBool("tokenizer.ggml.add_bos_token") ?? (spm || patterns!.Value.IgnoreMerges);
        bool addEos = gguf.GetBool("tokenizer.ggml.add_eos_token") ?? false;
        bool addSpacePrefix = gguf.GetBool("tokenizer.ggml.add_space_prefix") ?? spm;

        // Tokens matched literally: control/unknown only when parsing special tokens, user-defined always.
        string name = (gguf.GetString("general.name") ?? "").ToLowerInvariant();
        bool phi3 = name.Contains("phi-3") || name.Contains("phi3");
        var added = new List<AddedToken>();
        var special = new bool[n];
        for (int i = 0; i < n; i++)
        {
            int t = types[i];
            special[i] = t is Control or Unknown;
            if (t is not (Control or UserDefined or Unknown)) continue;
            // llama.cpp sets rstrip on Phi-3's special tokens (except <unk>, <s>, <|endoftext|>)
            bool rstrip = phi3 && pieces[i] is not ("<unk>" or "<s>" or "<|endoftext|>");
            added.Add(new AddedToken(i, pieces[i]!, special[i], RStrip: rstrip));
        }

        // Bytes each token decodes to (llama.cpp token_to_piece).
        var tokenBytes = new byte[n][];
        var scratch = new List<byte>();
        for (int i = 0; i < n; i++)
        {
            string t = pieces[i]!;
            int type = types[i];
            if (type is Control or Unknown or UserDefined) tokenBytes[i] = Encoding.UTF8.GetBytes(t);
            else if (type == Byte && t.Length == 6 && t.StartsWith("<0x", StringComparison.Ordinal)
                && byte.TryParse(t.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b)) tokenBytes[i] = [b];
            else if (spm) tokenBytes[i] = Encoding.UTF8.GetBytes(t.Replace('\u2581', ' '));
            else
            {
                scratch.Clear();
                tokenBytes[i] = ByteLevelAlphabet.TryDecode(t, scratch) ? scratch.ToArray() : Encoding.UTF8.GetBytes(t);
            }
        }

        // Model: BPE whose symbols merge by score (SentencePiece) or by merge rank (byte-level).
        Normalizer? normalizer;
        PreTokenizer? preTokenizer;
        BpeModel bpe;
        if (spm)
        {
            var steps = new List<Normalizer>();
            if (addSpacePrefix) steps.Add(new PrependNormalizer(" "));
            steps.Add(new ReplaceNormalizer(" ", null, "\u2581"));
            normalizer = new SequenceNormalizer(steps);
            preTokenizer = null;
            bpe = new BpeModel(pieceToId, BpeModel.MergesFromScores(pieces, scores, pieceToId), byteLevel: false, byteFallback: true,
                unkId: unk ?? -1, fuseUnk: false, ignoreMerges: false);
        }
        else
        {
            string[] mergeStrings = gguf.GetArray<string>("tokenizer.ggml.merges") ?? throw new InvalidDataException($"{src}: no tokenizer.ggml.merges");
            var merges = new List<(string, string)>(mergeStrings.Length);
            foreach (string m in mergeStrings)
            {
                int sp = m.IndexOf(' ', 1);
                merges.Add(sp < 0 ? ("", "") : (m[..sp], m[(sp + 1)..]));
            }
            normalizer = null;
            var regexes = patterns!.Value.Regexes;
            preTokenizer = new SequencePreTokenizer(regexes.Select(r => (PreTokenizer)new RegexSplitPreTokenizer(PreTokenizerPatterns.Compile(r), SplitBehavior.Isolated, false)).ToArray());
            bpe = new BpeModel(pieceToId, BpeModel.MergesFromRanks(merges, pieceToId, src), byteLevel: true, byteFallback: false,
                unkId: -1, fuseUnk: false, ignoreMerges: patterns.Value.IgnoreMerges);
        }

        int[] prefix = addBos && bos is int bb ? [bb] : [];
        int[] suffix = addEos && eos is int ee ? [ee] : [];
        return new Tokenizer(src, pieces, pieceToId, tokenBytes, special, added, normalizer, preTokenizer, bpe, prefix, suffix,
            bos, eosIds, spm && addSpacePrefix ? LeadingSpaceRule.StripOneLeadingSpace : LeadingSpaceRule.None);
    }

    private static float[] ReadScores(GgufFile gguf, int n)
    {
        var v = gguf.Get("tokenizer.ggml.scores");
        if (v is null) return new float[n];
        float[] scores = v.Value switch
        {
            float[] f => f,
            int[] i => i.Select(x => (float)x).ToArray(),
            _ => throw new InvalidDataException($"{gguf.Source}: tokenizer.ggml.scores is {v.Type}[{v.ElementType}], expected float32 or int32 array"),
        };
        if (scores.Length < n) throw new InvalidDataException($"{gguf.Source}: tokenizer.ggml.scores has {scores.Length} entries for {n} tokens");
        return scores;
    }
}

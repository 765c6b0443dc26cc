using System.Runtime.InteropServices;
using System.Text;
using Granary.Tokenizers.Models;
using Granary.Tokenizers.Normalization;
using Granary.Tokenizers.PreTokenization;

namespace Granary.Tokenizers;

/// <summary>
/// A BPE tokenizer: added-token matching, then per text segment normalizer, pre-tokenizer and BPE model, then the
/// post-processor's prefix/suffix ids. Built by <see cref="TokenizerLoader"/> from a HF tokenizer.json or a GGUF
/// vocabulary. Decoding concatenates precomputed per-token bytes. Thread-safe.
/// </summary>
public sealed class Tokenizer : ITokenizer
{
    private readonly string?[] _pieces;
    private readonly Dictionary<string, int> _pieceToId;
    private readonly byte[][] _tokenBytes;
    private readonly bool[] _special;
    private readonly AddedTokenMatcher _added;
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly BpeModel _model;
    private readonly int[] _prefix;
    private readonly int[] _suffix;

    internal Tokenizer(string source, string?[] pieces, Dictionary<string, int> pieceToId, byte[][] tokenBytes, bool[] special,
        IEnumerable<AddedToken> addedTokens, Normalizer? normalizer, PreTokenizer? preTokenizer, BpeModel model,
        int[] prefix, int[] suffix, int? bos, IReadOnlyList<int> eos, LeadingSpaceRule leadingSpaceRule)
    {
        Source = source;
        _pieces = pieces;
        _pieceToId = pieceToId;
        _tokenBytes = tokenBytes;
        _special = special;
        AddedTokens = addedTokens.ToArray();
        _added = new AddedTokenMatcher(AddedTokens);
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _model = model;
        _prefix = prefix;
        _suffix = suffix;
        BosTokenId = bos;
        EosTokenIds = eos;
        LeadingSpaceRule = leadingSpaceRule;
    }

    /// <summary>The file this tokenizer was loaded from.</summary>
    public string Source { get; }

    /// <summary>Tokens matched literally in input text (HF added tokens; GGUF control and user-defined tokens).</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>Ids the post-processor puts before the encoded text when special tokens are added.</summary>
    public IReadOnlyList<int> PrefixTokenIds => _prefix;

    /// <summary>Ids the post-processor puts after the encoded text when special tokens are added.</summary>
    public IReadOnlyList<int> SuffixTokenIds => _suffix;

    /// <inheritdoc />
    public int VocabSize => _pieces.Length;

    /// <inheritdoc />
    public int? BosTokenId { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <inheritdoc />
    public LeadingSpaceRule LeadingSpaceRule { get; }

    /// <inheritdoc />
    public int[] Encode(string text, bool addSpecialTokens = true) => Encode(text, addSpecialTokens, parseSpecial: true);

    /// <inheritdoc />
    public int[] Encode(string text, bool addSpecialTokens, bool parseSpecial)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(_prefix);
        var segments = new List<AddedTokenMatcher.Segment>();
        if (_added.IsEmpty) segments.Add(new AddedTokenMatcher.Segment(0, text.Length, -1));
        else _added.Split(text, parseSpecial, segments);
        var pieces = new List<string>();
        foreach (var seg in segments)
        {
            if (seg.TokenId >= 0) { ids.Add(seg.TokenId); continue; }
            if (seg.Length == 0) continue;
            string s = text.Substring(seg.Start, seg.Length);
            if (_normalizer is not null) s = _normalizer.Normalize(s);
            pieces.Clear();
            if (_preTokenizer is not null) _preTokenizer.Split(s, seg.Start == 0, pieces);
            else pieces.Add(s);
            foreach (var p in pieces) _model.Encode(p, ids);
        }
        if (addSpecialTokens) ids.AddRange(_suffix);
        return ids.ToArray();
    }

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>(ids.Length * 4);
        var assembler = new TokenByteAssembler(this, skipSpecialTokens);
        foreach (int id in ids) assembler.Append(id, bytes);
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes));
    }

    /// <inheritdoc />
    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <inheritdoc />
    public int? TokenToId(string token) => _pieceToId.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc />
    public string? IdToToken(int id) => (uint)id < (uint)_pieces.Length ? _pieces[id] : null;

    /// <inheritdoc />
    public void AppendTokenBytes(int id, List<byte> output, bool skipSpecialTokens)
    {
        if (skipSpecialTokens && IsSpecial(id)) return;
        output.AddRange(GetTokenBytes(id));
    }

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetTokenBytes(int id)
    {
        if ((uint)id >= (uint)_tokenBytes.Length) throw new ArgumentOutOfRangeException(nameof(id), id, $"token id out of range (vocabulary of {_tokenBytes.Length})");
        return _tokenBytes[id];
    }
}

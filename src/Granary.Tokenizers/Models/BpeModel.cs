using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace Granary.Tokenizers.Models;

/// <summary>
/// Byte-pair encoding over a linked list of symbols with a priority queue of candidate merges. One implementation
/// serves HF BPE (merge ranks), SentencePiece-style BPE (merge by the score of the merged piece) and byte-level
/// BPE (symbols start as single bytes mapped through the GPT-2 alphabet). Thread-safe; results per pre-token are cached.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 128;
    private const int MaxCacheEntries = 200_000;

    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<long, BpeMerge> _merges;
    private readonly int[] _byteIds;          // byte-level: id of each byte's alphabet char; else id of <0xNN> (or -1)
    private readonly bool _byteLevel;
    private readonly bool _byteFallback;
    private readonly int _unkId;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    [ThreadStatic] private static Scratch? t_scratch;

    public BpeModel(Dictionary<string, int> tokenToId, Dictionary<long, BpeMerge> merges, bool byteLevel, bool byteFallback,
        int unkId, bool fuseUnk, bool ignoreMerges)
    {
        _tokenToId = tokenToId;
        _lookup = tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _byteLevel = byteLevel;
        _byteFallback = byteFallback;
        _unkId = unkId;
        _fuseUnk = fuseUnk;
        _ignoreMerges = ignoreMerges;
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            string key = byteLevel ? ByteLevelAlphabet.ByteToChar[b].ToString() : $"<0x{b:X2}>";
            _byteIds[b] = tokenToId.TryGetValue(key, out int id) ? id : -1;
        }
    }

    public static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Merge table from ranked merges given as (left piece, right piece) in rank order.</summary>
    public static Dictionary<long, BpeMerge> MergesFromRanks(IReadOnlyList<(string Left, string Right)> merges, Dictionary<string, int> tokenToId, string source)
    {
        var table = new Dictionary<long, BpeMerge>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            if (!tokenToId.TryGetValue(a, out int ia) || !tokenToId.TryGetValue(b, out int ib) || !tokenToId.TryGetValue(a + b, out int merged))
                continue; // HF refuses such merges; llama.cpp can never apply them either
            table.TryAdd(PairKey(ia, ib), new BpeMerge(rank, merged));
        }
        return table;
    }

    /// <summary>SentencePiece-style merge table: any split of a piece into two pieces merges, by the piece's score.</summary>
    public static Dictionary<long, BpeMerge> MergesFromScores(string?[] pieces, float[] scores, Dictionary<string, int> tokenToId)
    {
        var table = new Dictionary<long, BpeMerge>(pieces.Length * 4);
        var lookup = tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int id = 0; id < pieces.Length; id++)
        {
            string? s = pieces[id];
            if (s is null || s.Length < 2 || tokenToId[s] != id) continue; // duplicates: the last id wins, as in llama.cpp
            for (int k = 1; k < s.Length; k++)
            {
                if (char.IsLowSurrogate(s[k])) continue;
                if (lookup.TryGetValue(s.AsSpan(0, k), out int l) && lookup.TryGetValue(s.AsSpan(k), out int r))
                    table[PairKey(l, r)] = new BpeMerge(-scores[id], id);
            }
        }
        return table;
    }

    /// <summary>Encodes one pre-token (in its original text form; byte-level mapping is done here).</summary>
    public void Encode(string word, List<int> output)
    {
        if (word.Length == 0) return;
        bool cacheable = word.Length <= MaxCachedWordLength;
        if (cacheable && _cache.TryGetValue(word, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }
        int start = output.Count;
        EncodeUncached(word, output);
        if (cacheable)
        {
            if (_cache.Count >= MaxCacheEntries) _cache.Clear();
            _cache.TryAdd(word, output.GetRange(start, output.Count - start).ToArray());
        }
    }

    private void EncodeUncached(string word, List<int> output)
    {
        var scratch = t_scratch ??= new Scratch();
        if (_byteLevel)
        {
            int maxBytes = Encoding.UTF8.GetMaxByteCount(word.Length);
            byte[] rented = ArrayPool<byte>.Shared.Rent(maxBytes);
            try
            {
                int n = Encoding.UTF8.GetBytes(word, rented);
                var bytes = rented.AsSpan(0, n);
                if (_ignoreMerges && _tokenToId.TryGetValue(ByteLevelAlphabet.Encode(bytes), out int whole))
                {
                    output.Add(whole);
                    return;
                }
                scratch.Reset(n);
                foreach (byte b in bytes) scratch.Add(_byteIds[b]);
            }
            finally { ArrayPool<byte>.Shared.Return(rented); }
        }
        else
        {
            if (_ignoreMerges && _tokenToId.TryGetValue(word, out int whole))
            {
                output.Add(whole);
                return;
            }
            scratch.Reset(word.Length * 4);
            Span<byte> utf8 = stackalloc byte[4];
            for (int i = 0; i < word.Length;)
            {
                int len = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
                if (_lookup.TryGetValue(word.AsSpan(i, len), out int id)) scratch.Add(id);
                else AddUnknown(word.AsSpan(i, len), scratch, utf8);
                i += len;
            }
        }
        MergeAll(scratch);
        scratch.CopyTo(output);
    }

    private void AddUnknown(ReadOnlySpan<char> ch, Scratch scratch, Span<byte> utf8)
    {
        if (_byteFallback)
        {
            int n = Encoding.UTF8.GetBytes(ch, utf8);
            bool all = true;
            for (int j = 0; j < n; j++) all &= _byteIds[utf8[j]] >= 0;
            if (all)
            {
                for (int j = 0; j < n; j++) scratch.Add(_byteIds[utf8[j]]);
                return;
            }
        }
        if (_unkId < 0) return; // no way to represent it: dropped
        if (_fuseUnk && scratch.Count > 0 && scratch.LastId == _unkId) return;
        scratch.Add(_unkId);
    }

    private void MergeAll(Scratch s)
    {
        var queue = s.Queue;
        queue.Clear();
        var sym = s.Symbols;
        for (int i = 0; i + 1 < s.Count; i++) TryQueue(s, i, i + 1);
        while (queue.TryDequeue(out var c, out _))
        {
            ref var left = ref sym[c.Left];
            if (left.Id != c.LeftId || left.Next != c.Right || sym[c.Right].Id != c.RightId) continue; // stale
            int next = sym[c.Right].Next;
            left.Id = c.NewId;
            left.Next = next;
            sym[c.Right].Id = Dead;
            if (next >= 0) sym[next].Prev = c.Left;
            if (left.Prev >= 0) TryQueue(s, left.Prev, c.Left);
            if (next >= 0) TryQueue(s, c.Left, next);
        }
    }

    private void TryQueue(Scratch s, int left, int right)
    {
        int a = s.Symbols[left].Id, b = s.Symbols[right].Id;
        if (a < 0 || b < 0 || !_merges.TryGetValue(PairKey(a, b), out var m)) return;
        s.Queue.Enqueue(new Candidate(left, right, a, b, m.NewId), (m.Priority, left));
    }

    private const int Dead = int.MinValue;

    private struct Symbol
    {
        public int Id, Prev, Next;
    }

    private readonly record struct Candidate(int Left, int Right, int LeftId, int RightId, int NewId);

    /// <summary>Per-thread working memory so that encoding a word allocates nothing.</summary>
    private sealed class Scratch
    {
        public Symbol[] Symbols = new Symbol[256];
        public int Count;
        public readonly PriorityQueue<Candidate, (float, int)> Queue = new();

        public int LastId => Symbols[Count - 1].Id;

        public void Reset(int capacity)
        {
            if (Symbols.Length < capacity) Symbols = new Symbol[Math.Max(capacity, Symbols.Length * 2)];
            Count = 0;
        }

        public void Add(int id)
        {
            if (Count == Symbols.Length) Array.Resize(ref Symbols, Count * 2);
            Symbols[Count] = new Symbol { Id = id, Prev = Count - 1, Next = -1 };
            if (Count > 0) Symbols[Count - 1].Next = Count;
            Count++;
        }

        public void CopyTo(List<int> output)
        {
            for (int i = 0; i < Count; i++)
                if (Symbols[i].Id >= 0) output.Add(Symbols[i].Id);
        }
    }
}

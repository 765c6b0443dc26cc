namespace Granary.Engine;

/// <summary>
/// Hands out the fixed-size blocks of the paged KV cache: a sequence owns the blocks that hold its
/// tokens' keys and values, in order, and gives them back when it finishes or is preempted.
/// With prefix caching (the default), a full block whose keys and values are computed is remembered
/// by a hash of its tokens chained with the hash of the blocks before it (as vLLM and nano-vllm do);
/// a sequence admitted later with the same prefix shares those blocks (reference counted) instead of
/// recomputing them. Blocks no sequence holds stay cached until they are needed for new tokens, the
/// least recently freed first.
/// </summary>
public sealed class BlockManager
{
    private const ulong HashSeed = 0xcbf29ce484222325;
    private readonly int[] _refs;
    private readonly bool[] _hashed;
    private readonly ulong[] _hash;
    private readonly ulong[] _parent;
    private readonly int[] _tokens;
    private readonly Dictionary<ulong, int> _cached = [];
    // Blocks with no reference, in a doubly linked list: new tokens take the head (least recently freed).
    private readonly int[] _prev;
    private readonly int[] _next;
    private int _head = -1, _tail = -1, _free;

    public BlockManager(int blocks, int blockSize, bool prefixCaching = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        TotalBlocks = blocks;
        BlockSize = blockSize;
        PrefixCaching = prefixCaching;
        _refs = new int[blocks];
        _hashed = new bool[blocks];
        _hash = new ulong[blocks];
        _parent = new ulong[blocks];
        _tokens = prefixCaching ? new int[(long)blocks * blockSize] : [];
        _prev = new int[blocks];
        _next = new int[blocks];
        for (int b = 0; b < blocks; b++) PushFree(b);
    }

    public int TotalBlocks { get; }
    public int BlockSize { get; }
    public bool PrefixCaching { get; }

    /// <summary>Blocks no sequence holds (some may still hold a cached prefix).</summary>
    public int FreeBlocks => _free;
    public int UsedBlocks => TotalBlocks - FreeBlocks;

    /// <summary>Full blocks remembered for prefix sharing (held or free).</summary>
    public int CachedBlocks => _cached.Count;

    /// <summary>Prompt tokens served from the prefix cache since start.</summary>
    public long CacheHitTokens { get; private set; }

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>Whether the sequence can grow to hold <paramref name="tokens"/> tokens.</summary>
    public bool CanGrow(Sequence sequence, int tokens) => BlocksFor(tokens) - sequence.Blocks.Count <= _free;

    /// <summary>Adds blocks until the sequence holds <paramref name="tokens"/> tokens; the caller checked <see cref="CanGrow"/>.</summary>
    public void Grow(Sequence sequence, int tokens)
    {
        int needed = BlocksFor(tokens);
        if (needed - sequence.Blocks.Count > _free) throw new InvalidOperationException($"sequence {sequence.Id} needs {needed - sequence.Blocks.Count} more KV blocks, {_free} free");
        while (sequence.Blocks.Count < needed)
        {
            int block = _head;
            Unlink(block);
            Forget(block);
            _refs[block] = 1;
            sequence.Blocks.Add(block);
        }
    }

    /// <summary>
    /// For a sequence about to be admitted with nothing in the cache: takes the cached blocks that hold
    /// its longest known prefix and marks those tokens computed. The last token is never taken from the
    /// cache, so the step that admits the sequence still samples from it.
    /// </summary>
    public void MatchPrefix(Sequence sequence)
    {
        sequence.CachedTokens = 0;
        if (!PrefixCaching || sequence.Blocks.Count != 0 || sequence.ComputedLength != 0) return;
        var tokens = sequence.Tokens;
        int limit = (tokens.Length - 1) / BlockSize;
        ulong parent = HashSeed;
        int matched = 0;
        for (int i = 0; i < limit; i++)
        {
            var span = tokens.Slice(i * BlockSize, BlockSize);
            ulong hash = Hash(parent, span);
            if (!_cached.TryGetValue(hash, out int block) || _parent[block] != parent || !span.SequenceEqual(_tokens.AsSpan(block * BlockSize, BlockSize))) break;
            if (_refs[block]++ == 0) Unlink(block);
            sequence.Blocks.Add(block);
            parent = hash;
            matched++;
        }
        sequence.HashedBlocks = matched;
        sequence.PrefixHash = parent;
        sequence.ComputedLength = matched * BlockSize;
        sequence.CachedTokens = Math.Min(matched * BlockSize, sequence.PromptLength);
    }

    /// <summary>Counts the cache hit of a sequence that was admitted after <see cref="MatchPrefix"/>.</summary>
    internal void CountHit(Sequence sequence) => CacheHitTokens += sequence.CachedTokens;

    /// <summary>Remembers the sequence's full blocks whose keys and values are now computed.</summary>
    public void CommitFullBlocks(Sequence sequence)
    {
        if (!PrefixCaching) return;
        int full = Math.Min(sequence.ComputedLength / BlockSize, sequence.Blocks.Count);
        if (sequence.HashedBlocks >= full) return;
        var tokens = sequence.Tokens;
        ulong parent = sequence.PrefixHash;
        for (int i = sequence.HashedBlocks; i < full; i++)
        {
            var span = tokens.Slice(i * BlockSize, BlockSize);
            ulong hash = Hash(parent, span);
            int block = sequence.Blocks[i];
            if (!_hashed[block])
            {
                _hashed[block] = true;
                _hash[block] = hash;
                _parent[block] = parent;
                span.CopyTo(_tokens.AsSpan(block * BlockSize, BlockSize));
                _cached.TryAdd(hash, block);
            }
            parent = hash;
        }
        sequence.HashedBlocks = full;
        sequence.PrefixHash = parent;
    }

    /// <summary>Gives the sequence's blocks back (its computed full blocks stay cached for others).</summary>
    public void Release(Sequence sequence)
    {
        CommitFullBlocks(sequence);
        // The last blocks go to the free list first, so a shared prefix outlives the tails.
        for (int i = sequence.Blocks.Count - 1; i >= 0; i--)
        {
            int block = sequence.Blocks[i];
            if (--_refs[block] == 0) PushFree(block);
        }
        sequence.Blocks.Clear();
        sequence.HashedBlocks = 0;
        sequence.PrefixHash = HashSeed;
    }

    private void Forget(int block)
    {
        if (!_hashed[block]) return;
        _hashed[block] = false;
        if (_cached.TryGetValue(_hash[block], out int owner) && owner == block) _cached.Remove(_hash[block]);
    }

    private static ulong Hash(ulong parent, ReadOnlySpan<int> tokens)
    {
        // FNV-1a over the token ids, then a splitmix finalizer; collisions are caught by comparing tokens.
        ulong h = parent;
        foreach (int t in tokens) h = (h ^ (uint)t) * 0x100000001b3UL;
        h ^= h >> 30; h *= 0xbf58476d1ce4e5b9UL;
        h ^= h >> 27; h *= 0x94d049bb133111ebUL;
        return h ^ (h >> 31);
    }

    private void PushFree(int block)
    {
        _prev[block] = _tail;
        _next[block] = -1;
        if (_tail >= 0) _next[_tail] = block; else _head = block;
        _tail = block;
        _free++;
    }

    private void Unlink(int block)
    {
        int p = _prev[block], n = _next[block];
        if (p >= 0) _next[p] = n; else _head = n;
        if (n >= 0) _prev[n] = p; else _tail = p;
        _free--;
    }
}

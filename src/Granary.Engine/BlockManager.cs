namespace Granary.Engine;

/// <summary>
/// Hands out the fixed-size blocks of the paged KV cache: a sequence owns the blocks that hold its
/// tokens' keys and values, in order, and gives them back when it finishes or is preempted.
/// </summary>
public sealed class BlockManager
{
    private readonly Stack<int> _free;

    public BlockManager(int blocks, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        TotalBlocks = blocks;
        BlockSize = blockSize;
        _free = new Stack<int>(Enumerable.Range(0, blocks).Reverse());
    }

    public int TotalBlocks { get; }
    public int BlockSize { get; }
    public int FreeBlocks => _free.Count;
    public int UsedBlocks => TotalBlocks - FreeBlocks;

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>Whether the sequence can grow to hold <paramref name="tokens"/> tokens.</summary>
    public bool CanGrow(Sequence sequence, int tokens) => BlocksFor(tokens) - sequence.Blocks.Count <= _free.Count;

    /// <summary>Adds blocks until the sequence holds <paramref name="tokens"/> tokens; the caller checked <see cref="CanGrow"/>.</summary>
    public void Grow(Sequence sequence, int tokens)
    {
        int needed = BlocksFor(tokens);
        if (needed - sequence.Blocks.Count > _free.Count) throw new InvalidOperationException($"sequence {sequence.Id} needs {needed - sequence.Blocks.Count} more KV blocks, {_free.Count} free");
        while (sequence.Blocks.Count < needed) sequence.Blocks.Add(_free.Pop());
    }

    public void Release(Sequence sequence)
    {
        for (int i = sequence.Blocks.Count - 1; i >= 0; i--) _free.Push(sequence.Blocks[i]);
        sequence.Blocks.Clear();
    }
}

using System.Numerics.Tensors;

namespace Granary.Compute.Cpu;

/// <summary>
/// Paged causal attention. Each row attends over its sequence's cached keys at positions 0..position, found
/// through the block table; query heads share KV heads in groups. Rows of one sequence at consecutive positions
/// (a prefill chunk) go in blocks of up to 8 through <see cref="BlockAttention"/>; a row on its own (decode)
/// takes one dot product per position. One chunk per (block, query head).
/// </summary>
internal sealed unsafe class AttentionJob : CpuJob
{
    public float* Q;
    public float* KCache;
    public float* VCache;
    public float* Output;
    public int Heads;
    public int KvHeads;
    public int HeadDim;
    public int BlockSize;
    public float Scale;
    public BatchLayout Batch = null!;

    private int[] _blockStarts = [];
    private int _blocks;

    [ThreadStatic] private static float[]? t_scores;

    /// <summary>Groups the batch's rows into blocks and returns the chunk count.</summary>
    public int Plan()
    {
        int rows = Batch.Rows;
        if (_blockStarts.Length < rows + 1) _blockStarts = new int[Batch.MaxRows + 1];
        _blocks = 0;
        for (int r = 0; r < rows; r++)
        {
            int start = _blocks == 0 ? -1 : _blockStarts[_blocks - 1];
            bool continues = start >= 0 && r - start < BlockAttention.Rows && Batch.RowSequence[r] == Batch.RowSequence[start]
                && Batch.Positions[r] == Batch.Positions[start] + (r - start);
            if (!continues) _blockStarts[_blocks++] = r;
        }
        _blockStarts[_blocks] = rows;
        return _blocks * Heads;
    }

    public override void Execute(int chunk)
    {
        int block = chunk / Heads;
        int head = chunk % Heads;
        int kvHead = head / (Heads / KvHeads);
        int kvDim = KvHeads * HeadDim;
        int row = _blockStarts[block], count = _blockStarts[block + 1] - row;
        int length = Batch.Positions[row + count - 1] + 1;
        ReadOnlySpan<int> blocks = Batch.BlockTable(Batch.RowSequence[row]);

        var scores = t_scores;
        int need = count == 1 ? length : BlockAttention.ScratchFloats(length, HeadDim);
        if (scores == null || scores.Length < need) t_scores = scores = GC.AllocateUninitializedArray<float>(Math.Max(need, 1024), pinned: true);
        if (count > 1)
        {
            fixed (float* scratch = scores)
                BlockAttention.Run(Q, KCache, VCache, Output, Heads, HeadDim, kvDim, head, kvHead, BlockSize, Scale, blocks, row, count, Batch.Positions[row], scratch);
            return;
        }

        var q = new ReadOnlySpan<float>(Q + ((long)row * Heads + head) * HeadDim, HeadDim);
        for (int t = 0; t < length; t++)
        {
            long slot = (long)blocks[t / BlockSize] * BlockSize + t % BlockSize;
            scores[t] = TensorPrimitives.Dot(q, new ReadOnlySpan<float>(KCache + slot * kvDim + kvHead * HeadDim, HeadDim)) * Scale;
        }
        var weights = scores.AsSpan(0, length);
        TensorPrimitives.SoftMax(weights, weights);

        var output = new Span<float>(Output + ((long)row * Heads + head) * HeadDim, HeadDim);
        output.Clear();
        for (int t = 0; t < length; t++)
        {
            long slot = (long)blocks[t / BlockSize] * BlockSize + t % BlockSize;
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(VCache + slot * kvDim + kvHead * HeadDim, HeadDim), weights[t], output, output);
        }
    }
}

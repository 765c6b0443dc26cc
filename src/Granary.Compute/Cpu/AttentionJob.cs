using System.Numerics.Tensors;

namespace Granary.Compute.Cpu;

/// <summary>
/// Paged causal attention: one chunk per (row, query head). Each row attends over its sequence's cached
/// keys at positions 0..position, found through the block table; query heads share KV heads in groups.
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

    [ThreadStatic] private static float[]? t_scores;

    public override void Execute(int chunk)
    {
        int row = chunk / Heads;
        int head = chunk % Heads;
        int kvHead = head / (Heads / KvHeads);
        int kvDim = KvHeads * HeadDim;
        int length = Batch.Positions[row] + 1;
        ReadOnlySpan<int> blocks = Batch.BlockTable(Batch.RowSequence[row]);

        var scores = t_scores;
        if (scores == null || scores.Length < length) t_scores = scores = new float[Math.Max(length, 1024)];
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

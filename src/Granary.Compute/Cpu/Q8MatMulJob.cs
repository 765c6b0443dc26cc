namespace Granary.Compute.Cpu;

/// <summary>
/// y = x * W^T (+ bias) with Q8_0 weights, in two runs over the pool: first the activation rows are quantized to
/// Q8_0 (chunks of rows), then chunks of output features as in <see cref="MatMulJob"/> multiply them in int8
/// (<see cref="Q8Dot"/>): four weight rows at a time in decode, one weight
/// row against 4 activation rows otherwise, over blocks of rows that stay in L1. For steps of
/// <see cref="MaxRows"/> rows or more (prefill), which are bound by arithmetic rather than by weight traffic,
/// <see cref="MatMulJob"/> widens each chunk of weights to float32 once and runs its f32 tiles instead: without
/// VNNI (.NET 10 has no AVX-512 VNNI intrinsics; Zen 4 lacks AVX-VNNI) the int8 path does 38 GFLOP/s on one core
/// against the f32 tiles' 90 (128 x 288 x 768).
/// </summary>
internal sealed unsafe class Q8MatMulJob : ProductJob
{
    /// <summary>Fewest rows that go to the f32 tiles instead.</summary>
    public const int MaxRows = 8;

    private const int RowsPerQuantizeChunk = 8;
    private const int RowBlockBytes = 16 * 1024;

    public int OutputsPerChunk;

    private bool _quantizing;
    private sbyte[] _q = [];
    private float[] _d = [];

    /// <summary>Quantizes the activation rows on <paramref name="pool"/> and returns the product's chunk count (then run them).</summary>
    public int Prepare(WorkerPool pool)
    {
        if (In % Q8_0Blocks.BlockLength != 0) throw new ArgumentException($"a Q8_0 matmul needs inputs in whole blocks of {Q8_0Blocks.BlockLength}, got {In}");
        long values = (long)Rows * In;
        if (_q.Length < values)
        {
            _q = GC.AllocateUninitializedArray<sbyte>(checked((int)values), pinned: true);
            _d = GC.AllocateUninitializedArray<float>(checked((int)(values / Q8_0Blocks.BlockLength)), pinned: true);
        }
        _quantizing = true;
        pool.Run(this, (Rows + RowsPerQuantizeChunk - 1) / RowsPerQuantizeChunk);
        _quantizing = false;
        OutputsPerChunk = MatMulJob.OutputsPerChunkFor(Out, pool.Threads);
        return (Out + OutputsPerChunk - 1) / OutputsPerChunk;
    }

    public override void Execute(int chunk)
    {
        int blocks = In / Q8_0Blocks.BlockLength;
        fixed (sbyte* q = _q)
        fixed (float* d = _d)
        {
            if (_quantizing)
            {
                int end = Math.Min(Rows, (chunk + 1) * RowsPerQuantizeChunk);
                for (int r = chunk * RowsPerQuantizeChunk; r < end; r++) Q8Dot.QuantizeRow(X + (long)r * In, In, q + (long)r * In, d + (long)r * blocks);
                return;
            }
            int o0 = chunk * OutputsPerChunk, o1 = Math.Min(Out, o0 + OutputsPerChunk);
            long rowBytes = (long)blocks * Q8_0Blocks.BlockBytes;
            byte* weights = (byte*)W; // Q8_0 blocks, rowBytes a row
            if (Rows == 1)
            {
                // Decode: four weight rows at a time against the one activation row.
                int o = o0;
                for (; o + 4 <= o1; o += 4) Q8Dot.Dot4Rows(weights + o * rowBytes, rowBytes, q, d, blocks, Y + o);
                for (; o < o1; o++) Y[o] = Q8Dot.Dot(weights + o * rowBytes, q, d, blocks);
                AddBias(o0, o1);
                return;
            }
            int rowBlock = Math.Max(4, RowBlockBytes / In / 4 * 4);
            for (int r0 = 0; r0 < Rows; r0 += rowBlock)
            {
                int r1 = Math.Min(Rows, r0 + rowBlock);
                for (int o = o0; o < o1; o++)
                {
                    byte* w = weights + o * rowBytes;
                    int r = r0;
                    for (; r + 4 <= r1; r += 4) Q8Dot.Dot1x4(w, q + (long)r * In, d + (long)r * blocks, blocks, In, Y + (long)r * Out + o, Out);
                    for (; r < r1; r++) Y[(long)r * Out + o] = Q8Dot.Dot(w, q + (long)r * In, d + (long)r * blocks, blocks);
                }
            }
            AddBias(o0, o1);
        }
    }
}

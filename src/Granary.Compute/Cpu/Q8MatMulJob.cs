namespace Granary.Compute.Cpu;

/// <summary>
/// y = x * W^T (+ bias) with Q8_0 weights in <see cref="Q8Tiles"/>, in two runs over the pool: first the activation
/// rows are quantized to Q8_0 (chunks of rows), then chunks of whole tiles of output features multiply them in int8
/// (<see cref="Q8Dot.Dot8RowsBy4"/>, four activation rows at a time), each tile against every activation row while it
/// is in L1. Prefill too: at 128 rows this ran 14-16% faster than widening the weights for the f32 tiles, although
/// .NET 10 has no 512-bit VNNI intrinsics and the int8 products run 256 bits wide where the f32 tiles run 512.
/// </summary>
internal sealed unsafe class Q8MatMulJob : ProductJob
{
    private const int RowsPerQuantizeChunk = 8;

    public int OutputsPerChunk;

    private bool _quantizing;
    private sbyte[] _q = [];
    private float[] _d = [];
    private int[] _sums = [];

    /// <summary>
    /// Quantizes the activation rows on <paramref name="pool"/> and returns the product's chunk count (then run them).
    /// <see cref="In"/> is the tiled rows' length, whole blocks (the backend checks).
    /// </summary>
    public int Prepare(WorkerPool pool)
    {
        long values = (long)Rows * In;
        if (_q.Length < values)
        {
            _q = GC.AllocateUninitializedArray<sbyte>(checked((int)values), pinned: true);
            _d = GC.AllocateUninitializedArray<float>(checked((int)(values / Q8_0Blocks.BlockLength)), pinned: true);
            _sums = GC.AllocateUninitializedArray<int>(_d.Length, pinned: true);
        }
        _quantizing = true;
        pool.Run(this, (Rows + RowsPerQuantizeChunk - 1) / RowsPerQuantizeChunk);
        _quantizing = false;
        OutputsPerChunk = (MatMulJob.OutputsPerChunkFor(Out, pool.Threads) + Q8Tiles.Rows - 1) / Q8Tiles.Rows * Q8Tiles.Rows;
        return (Out + OutputsPerChunk - 1) / OutputsPerChunk;
    }

    public override void Execute(int chunk)
    {
        int blocks = In / Q8_0Blocks.BlockLength;
        fixed (sbyte* q = _q)
        fixed (float* d = _d)
        fixed (int* sums = _sums)
        {
            if (_quantizing)
            {
                int end = Math.Min(Rows, (chunk + 1) * RowsPerQuantizeChunk);
                for (int r = chunk * RowsPerQuantizeChunk; r < end; r++)
                    Q8Dot.QuantizeRow(X + (long)r * In, In, q + (long)r * In, d + (long)r * blocks, sums + (long)r * blocks);
                return;
            }
            int o0 = chunk * OutputsPerChunk, o1 = Math.Min(Out, o0 + OutputsPerChunk);
            long tileBytes = Q8Tiles.TileBytes(In);
            float* partial = stackalloc float[Q8Tiles.Rows];
            for (int o = o0; o < o1; o += Q8Tiles.Rows)
            {
                byte* tile = (byte*)W + o / Q8Tiles.Rows * tileBytes;
                bool whole = o + Q8Tiles.Rows <= o1;
                int r = 0;
                if (whole)
                {
                    for (; r + 4 <= Rows; r += 4)
                        Q8Dot.Dot8RowsBy4(tile, blocks, q + (long)r * In, In, d + (long)r * blocks, sums + (long)r * blocks, Y + (long)r * Out + o, Out);
                }
                for (; r < Rows; r++)
                {
                    // The last rows one at a time; a partial tile's outputs through a scratch row.
                    float* y = Y + (long)r * Out + o;
                    Q8Dot.Dot8Rows(tile, blocks, q + (long)r * In, d + (long)r * blocks, sums + (long)r * blocks, whole ? y : partial);
                    if (!whole) new ReadOnlySpan<float>(partial, o1 - o).CopyTo(new Span<float>(y, o1 - o));
                }
            }
            AddBias(o0, o1);
        }
    }
}

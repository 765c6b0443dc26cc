namespace Granary.Compute.Cpu;

/// <summary>
/// y = x * W^T (+ bias) for float32 activations, as a blocked GEMM: chunks are groups of up to 64 output features
/// (the chunk's weights stay in L2), and within a chunk the activation rows go in blocks that fit L1, each block
/// multiplied with every 4 weight rows of the chunk in 4 x 4 register tiles (<see cref="DotKernels"/>). So weight
/// traffic, the bound of decode, is one pass per step, and activations are read from L1 in prefill.
/// BF16/F16 weights are widened into a per-thread scratch (4 rows in decode, the chunk's rows otherwise).
/// </summary>
internal sealed unsafe class MatMulJob : ProductJob
{
    private const int MaxOutputsPerChunk = 64;
    private const int Tile = 4;
    /// <summary>Bytes of activation rows per block: half of a 32 KiB L1, the rest for the weight tile and the output.</summary>
    private const int RowBlockBytes = 16 * 1024;

    public DType WType;

    /// <summary>Outputs per chunk, a multiple of the tile: small enough that every thread gets several chunks of a narrow matrix.</summary>
    public int OutputsPerChunk = MaxOutputsPerChunk;

    [ThreadStatic] private static float[]? t_scratch;

    /// <summary>Sets <see cref="OutputsPerChunk"/> for <see cref="Out"/> outputs on <paramref name="threads"/> threads and returns the chunk count.</summary>
    public int Plan(int threads)
    {
        OutputsPerChunk = OutputsPerChunkFor(Out, threads);
        return (Out + OutputsPerChunk - 1) / OutputsPerChunk;
    }

    /// <summary>Outputs per chunk of a matrix of <paramref name="outputs"/> rows: about 8 chunks a thread, 4 to 64 outputs each.</summary>
    public static int OutputsPerChunkFor(int outputs, int threads) => Math.Clamp(outputs / (threads * 8) / Tile * Tile, Tile, MaxOutputsPerChunk);

    public override void Execute(int chunk)
    {
        int o0 = chunk * OutputsPerChunk;
        int o1 = Math.Min(Out, o0 + OutputsPerChunk);
        int n = In;
        float[]? scratch = null;
        if (WType != DType.F32)
        {
            int need = (Rows == 1 ? Tile : MaxOutputsPerChunk) * n;
            scratch = t_scratch;
            if (scratch == null || scratch.Length < need) t_scratch = scratch = GC.AllocateUninitializedArray<float>(need, pinned: true);
        }
        if (Rows == 1)
        {
            fixed (float* scratchPtr = scratch)
            {
                // Decode: one activation row. Walking the weights row after row keeps a single sequential
                // stream that the hardware prefetcher follows; tiles of 4 rows interleave 4 short streams
                // and reach half the bandwidth on narrow models.
                for (int row = o0; row < o1; row += Tile)
                {
                    int count = Math.Min(Tile, o1 - row);
                    float* w = WeightRowsAt(row, count, scratchPtr);
                    for (int j = 0; j < count; j++) Y[row + j] = DotKernels.Dot(X, w + (long)j * n, n);
                }
            }
            AddBias(o0, o1);
            return;
        }
        float* weights = (float*)W + (long)o0 * n;
        fixed (float* scratchPtr = scratch)
        {
            if (WType != DType.F32)
            {
                WeightRows.ToFloat(WType, (byte*)W + WType.ByteCount((long)o0 * n), scratchPtr, (o1 - o0) * n);
                weights = scratchPtr;
            }
            int block = Math.Max(Tile, RowBlockBytes / (n * sizeof(float)) / Tile * Tile);
            for (int r0 = 0; r0 < Rows; r0 += block)
            {
                int r1 = Math.Min(Rows, r0 + block);
                int o = o0;
                for (; o + Tile <= o1; o += Tile)
                {
                    float* w = weights + (long)(o - o0) * n;
                    int r = r0;
                    for (; r + Tile <= r1; r += Tile) DotKernels.Dot4x4(X + (long)r * n, w, n, Y + (long)r * Out + o, Out);
                    for (; r < r1; r++) DotKernels.Dot1x4(X + (long)r * n, w, n, Y + (long)r * Out + o);
                }
                for (; o < o1; o++)
                {
                    float* w = weights + (long)(o - o0) * n;
                    for (int r = r0; r < r1; r++) Y[(long)r * Out + o] = DotKernels.Dot(X + (long)r * n, w, n);
                }
            }
        }
        AddBias(o0, o1);
    }

    private float* WeightRowsAt(int row, int count, float* scratch)
    {
        if (WType == DType.F32) return (float*)W + (long)row * In;
        byte* source = (byte*)W + WType.ByteCount((long)row * In);
        WeightRows.ToFloat(WType, source, scratch, count * In);
        return scratch;
    }
}

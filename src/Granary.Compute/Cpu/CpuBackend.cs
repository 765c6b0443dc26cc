using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Granary.Compute.Fp8;

namespace Granary.Compute.Cpu;

/// <summary>
/// The backend on host memory: float32 activations and KV cache, F32/BF16/F16 or Q8_0 weights (quantized at upload
/// when the options ask), SIMD kernels run on a pool of persistent threads. Operations run synchronously on the
/// calling thread's order. FP8 weights (<see cref="DType.F8E4M3"/> uploads, or any weight under
/// <see cref="WeightQuantization.Fp8"/>) are held dequantized as float32: the values the GPU multiplies by, so that the
/// CPU can check it.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    private readonly WorkerPool _pool;
    private readonly WeightQuantization _quantization;
    private readonly AttentionJob _attention = new();
    private readonly RowJob _rows = new();
    // Top-k results begun and not yet read (async scheduling reads a step's after launching the next).
    private readonly OutstandingTopK _outstanding = new();
    private bool _fedTokens; // the step since the last BeginTopK took its tokens from it

    public CpuBackend(CpuBackendOptions? options = null)
    {
        options ??= new CpuBackendOptions();
        _pool = new WorkerPool(Math.Max(1, options.Threads));
        _quantization = options.Quantization;
    }

    public string Name => _quantization == WeightQuantization.None ? $"cpu ({_pool.Threads} threads)" : $"cpu ({_pool.Threads} threads, {_quantization.Name()} weights)";

    public DType ActivationType => DType.F32;

    public DType ResidualType => DType.F32;

    /// <summary>Kernel threads, the caller included.</summary>
    public int Threads => _pool.Threads;

    public DeviceBuffer Allocate(DType dtype, long length) => dtype == DType.Q8_0
        ? throw new ArgumentException("Q8_0 weights go through UploadWeight (with their row length), not Allocate", nameof(dtype))
        : new CpuBuffer(dtype, length);

    public DeviceBuffer Upload(DType dtype, ReadOnlySpan<byte> data)
    {
        if (dtype == DType.F8E4M3) throw new ArgumentException("FP8 weights (codes and per-row scales) go through UploadWeight, not Upload", nameof(dtype));
        if (dtype == DType.Q8_0) throw new ArgumentException("Q8_0 weights go through UploadWeight (with their row length), not Upload", nameof(dtype));
        long elements = dtype.ElementCount(data.Length);
        if (elements < 0) throw new ArgumentException($"{data.Length} bytes is not a whole number of {dtype} elements", nameof(data));
        var buffer = new CpuBuffer(dtype, elements);
        data.CopyTo(new Span<byte>(buffer.Pointer, data.Length));
        return buffer;
    }

    public DeviceBuffer UploadWeight(DType dtype, ReadOnlySpan<byte> data, long rowLength)
    {
        if (dtype == DType.Q8_0) return UploadQ8(data, rowLength);
        if (_quantization == WeightQuantization.None && dtype != DType.F8E4M3) return Upload(dtype, data);
        float[] values = dtype == DType.F8E4M3 ? Fp8Weights.Dequantize(data, rowLength) : HostConversions.ToFloat(dtype, data);
        // FP8 codes are quantized already: they keep their values under every option but Q8_0, which re-quantizes them.
        if (dtype == DType.F8E4M3 && _quantization != WeightQuantization.Q8_0) return UploadFloats(values);
        if (_quantization == WeightQuantization.Fp8) return UploadFloats(Fp8Weights.Dequantize(Fp8Weights.Quantize(values, rowLength), rowLength));
        if (rowLength % Q8_0Blocks.BlockLength != 0)
            throw new NotSupportedException($"Q8_0 quantizes rows in blocks of {Q8_0Blocks.BlockLength} elements; this matrix (or this rank's slice of it) has rows of {rowLength}");
        return UploadQ8(Q8_0Blocks.Quantize(values), rowLength);
    }

    /// <summary>Rows of llama.cpp Q8_0 blocks, kept in <see cref="Q8Tiles"/>.</summary>
    private static CpuBuffer UploadQ8(ReadOnlySpan<byte> data, long rowLength)
    {
        if (rowLength <= 0 || rowLength % Q8_0Blocks.BlockLength != 0 || rowLength > int.MaxValue)
            throw new ArgumentException($"Q8_0 rows hold whole blocks of {Q8_0Blocks.BlockLength} values, not {rowLength}", nameof(rowLength));
        long length = DType.Q8_0.ElementCount(data.Length);
        if (length < 0 || length % rowLength != 0)
            throw new ArgumentException($"{data.Length} bytes are not whole Q8_0 rows of {rowLength} values", nameof(data));
        var buffer = CpuBuffer.Q8Tiled(length, (int)rowLength);
        Q8Tiles.Pack(data, (int)rowLength, (byte*)buffer.Pointer);
        return buffer;
    }

    public bool SupportsWeights(DType dtype) => dtype is DType.F32 or DType.BF16 or DType.F16 or DType.Q8_0 or DType.F8E4M3;

    private DeviceBuffer UploadFloats(float[] values) => Upload(DType.F32, MemoryMarshal.AsBytes(values.AsSpan()));

    public DeviceBuffer Slice(DeviceBuffer buffer, long offset, long length)
    {
        CheckRange(buffer, offset, length, buffer.DType);
        if (offset % buffer.DType.BlockLength() != 0) throw new ArgumentException($"a view of {buffer.DType} must start on a block of {buffer.DType.BlockLength()} elements, not at {offset}", nameof(offset));
        var parent = Cpu(buffer);
        int rowLength = parent.TiledRowLength;
        if (rowLength != 0 && (offset % ((long)Q8Tiles.Rows * rowLength) != 0))
        {
            // Q8_0 rows that do not begin a tile (stacked parts whose row counts are not multiples of 8): their own copy.
            if (offset % rowLength != 0 || length % rowLength != 0)
                throw new ArgumentException($"a view of Q8_0 weights takes whole rows of {rowLength}, not {length} elements at {offset}", nameof(offset));
            return UploadQ8(Q8Tiles.ToBlocks((byte*)parent.Pointer, rowLength, offset / rowLength, length / rowLength), rowLength);
        }
        return new CpuBuffer(parent, offset, length);
    }

    public void CopyFromHost(ReadOnlySpan<float> source, DeviceBuffer destination, long offset = 0)
    {
        CheckRange(destination, offset, source.Length, DType.F32);
        source.CopyTo(new Span<float>(Floats(destination) + offset, source.Length));
    }

    public void CopyToHost(DeviceBuffer source, Span<float> destination, long offset = 0)
    {
        CheckRange(source, offset, destination.Length, DType.F32);
        new ReadOnlySpan<float>(Floats(source) + offset, destination.Length).CopyTo(destination);
    }

    public void Zero(DeviceBuffer buffer, long length)
    {
        CheckRange(buffer, 0, length, buffer.DType);
        new Span<byte>(Cpu(buffer).Pointer, checked((int)buffer.DType.ByteCount(length))).Clear();
    }

    public void Embedding(DeviceBuffer table, int vocabStart, int vocabRows, int dim, BatchLayout batch, DeviceBuffer output)
    {
        float* outRows = Floats(output);
        _fedTokens |= batch.FeedsTokens;
        for (int r = 0; r < batch.Rows; r++)
        {
            int id = batch.FeedsTokens ? _outstanding.BestId(batch.TokenSources[r]) : batch.TokenIds[r];
            int local = id - vocabStart;
            float* destination = outRows + (long)r * dim;
            if ((uint)local >= (uint)vocabRows)
            {
                new Span<float>(destination, dim).Clear();
                continue;
            }
            var rows = Cpu(table);
            if (rows.TiledRowLength != 0) Q8Tiles.ToFloat((byte*)rows.Pointer, rows.TiledRowLength, local, 1, destination);
            else WeightRows.ToFloat(table.DType, (byte*)rows.Pointer + table.DType.ByteCount((long)local * dim), destination, dim);
        }
    }

    public void RmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer output, int rows, int dim, float eps)
    {
        SetRows(RowJob.Kind.RmsNorm, x, weight, output, rows, dim, eps);
        _pool.Run(_rows, RowJob.Chunks(rows));
    }

    /// <remarks>Reads the oldest outstanding <see cref="BeginTopK"/>'s results when they answer these arguments; computes them otherwise.</remarks>
    public void TopK(DeviceBuffer logits, int rows, int segmentLength, int segments, int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (ids.Length < rows * k || values.Length < rows * k || logSumExp.Length < rows) throw new ArgumentException("the result spans are too short for rows x k results");
        if (_outstanding.TryRead(new TopKRequest(logits, rows, segmentLength, segments, k), ids, values, logSumExp)) return;
        SelectTop(logits, rows, segmentLength, segments, k, ids, values, logSumExp);
    }

    /// <remarks>The CPU computes the results now and keeps them until read: the next step overwrites the logits.</remarks>
    public void BeginTopK(DeviceBuffer logits, int rows, int segmentLength, int segments, int k)
    {
        var slot = _outstanding.Begin(new TopKRequest(logits, rows, segmentLength, segments, k), _fedTokens);
        _fedTokens = false;
        SelectTop(logits, rows, segmentLength, segments, k, slot.Ids, slot.Values, slot.LogSumExp);
    }

    private void SelectTop(DeviceBuffer logits, int rows, int segmentLength, int segments, int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if ((uint)k > TopLogits.MaxK) throw new ArgumentOutOfRangeException(nameof(k), $"k must be in 0..{TopLogits.MaxK}, got {k}");
        long vocab = (long)segmentLength * segments;
        CheckRange(logits, 0, vocab * rows, DType.F32);
        float* all = Floats(logits);
        if (segments == 1)
        {
            TopLogits.SelectRows(new ReadOnlySpan<float>(all, checked((int)(vocab * rows))), rows, (int)vocab, k, ids, values, logSumExp);
            return;
        }
        // A row whose ids are spread over the segments is gathered into one scratch row first.
        float[] gathered = System.Buffers.ArrayPool<float>.Shared.Rent((int)vocab);
        try
        {
            for (int r = 0; r < rows; r++)
            {
                for (int s = 0; s < segments; s++)
                    new ReadOnlySpan<float>(all + ((long)s * rows + r) * segmentLength, segmentLength).CopyTo(gathered.AsSpan(s * segmentLength, segmentLength));
                logSumExp[r] = TopLogits.Select(gathered.AsSpan(0, (int)vocab), ids.Slice(r * k, k), values.Slice(r * k, k));
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(gathered);
        }
    }

    public void Rope(DeviceBuffer x, int rows, int heads, int headDim, BatchLayout batch, DeviceBuffer cosSin)
    {
        var job = _rows;
        job.Operation = RowJob.Kind.Rope;
        job.X = Floats(x);
        job.CosSin = Floats(cosSin);
        job.Rows = rows;
        job.Heads = heads;
        job.HeadDim = headDim;
        job.Batch = batch;
        _pool.Run(job, RowJob.Chunks(rows));
    }

    public void SiluMul(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer output, long length)
    {
        float* g = Floats(gate), u = Floats(up), o = Floats(output);
        // silu(g) * u = sigmoid(g) * g * u, in chunks through a stack buffer so output may alias gate or up.
        Span<float> chunk = stackalloc float[256];
        for (long i = 0; i < length; i += chunk.Length)
        {
            int n = (int)Math.Min(chunk.Length, length - i);
            var t = chunk[..n];
            var gi = new ReadOnlySpan<float>(g + i, n);
            TensorPrimitives.Sigmoid(gi, t);
            TensorPrimitives.Multiply(t, gi, t);
            TensorPrimitives.Multiply(t, new ReadOnlySpan<float>(u + i, n), new Span<float>(o + i, n));
        }
    }

    public void Add(DeviceBuffer target, DeviceBuffer source, long length)
    {
        int n = checked((int)length);
        var t = new Span<float>(Floats(target), n);
        TensorPrimitives.Add(t, new ReadOnlySpan<float>(Floats(source), n), t);
    }

    public void WriteKv(DeviceBuffer k, DeviceBuffer v, DeviceBuffer kCache, DeviceBuffer vCache, int kvDim, BatchLayout batch)
    {
        float* kc = Floats(kCache), vc = Floats(vCache), ks = Floats(k), vs = Floats(v);
        long slots = kCache.Length / kvDim;
        for (int r = 0; r < batch.Rows; r++)
        {
            long slot = batch.SlotMapping[r];
            if ((ulong)slot >= (ulong)slots) throw new ArgumentOutOfRangeException(nameof(batch), $"row {r} maps to KV slot {slot} outside the cache's {slots} slots");
            new ReadOnlySpan<float>(ks + (long)r * kvDim, kvDim).CopyTo(new Span<float>(kc + slot * kvDim, kvDim));
            new ReadOnlySpan<float>(vs + (long)r * kvDim, kvDim).CopyTo(new Span<float>(vc + slot * kvDim, kvDim));
        }
    }

    public void Attention(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer output, int heads, int kvHeads, int headDim, int blockSize, float scale, BatchLayout batch)
    {
        if (heads % kvHeads != 0) throw new ArgumentException($"{heads} query heads cannot share {kvHeads} KV heads evenly");
        var job = _attention;
        job.Q = Floats(q);
        job.KCache = Floats(kCache);
        job.VCache = Floats(vCache);
        job.Output = Floats(output);
        job.Heads = heads;
        job.KvHeads = kvHeads;
        job.HeadDim = headDim;
        job.BlockSize = blockSize;
        job.Scale = scale;
        job.Batch = batch;
        _pool.Run(job, job.Plan());
    }

    public void GatherRows(DeviceBuffer source, DeviceBuffer destination, int cols, ReadOnlySpan<int> rows)
    {
        float* s = Floats(source), d = Floats(destination);
        for (int i = 0; i < rows.Length; i++)
            new ReadOnlySpan<float>(s + (long)rows[i] * cols, cols).CopyTo(new Span<float>(d + (long)i * cols, cols));
    }

    public void ScaleAddRows(DeviceBuffer source, DeviceBuffer destination, int cols, ReadOnlySpan<int> rows, ReadOnlySpan<float> scales)
    {
        float* s = Floats(source), d = Floats(destination);
        for (int i = 0; i < rows.Length; i++)
        {
            var target = new Span<float>(d + (long)rows[i] * cols, cols);
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(s + (long)i * cols, cols), scales[i], target, target);
        }
    }

    public void Synchronize() { }

    public void Dispose() => _pool.Dispose();

    private void SetRows(RowJob.Kind kind, DeviceBuffer x, DeviceBuffer weight, DeviceBuffer output, int rows, int dim, float eps)
    {
        var job = _rows;
        job.Operation = kind;
        job.X = Floats(x);
        job.Weight = Floats(weight);
        job.Output = Floats(output);
        job.Rows = rows;
        job.Dim = dim;
        job.Eps = eps;
    }

    private static CpuBuffer Cpu(DeviceBuffer buffer) =>
        buffer as CpuBuffer ?? throw new ArgumentException($"buffer of another backend ({buffer.GetType().Name}) passed to the CPU backend");

    private static float* Floats(DeviceBuffer buffer)
    {
        if (buffer.DType != DType.F32) throw new ArgumentException($"the CPU backend expects float32 here, got {buffer.DType}");
        return Cpu(buffer).Floats;
    }

    private static void CheckRange(DeviceBuffer buffer, long offset, long length, DType dtype)
    {
        if (buffer.DType != dtype) throw new ArgumentException($"expected a {dtype} buffer, got {buffer.DType}");
        if (offset < 0 || length < 0 || offset + length > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(length), $"elements [{offset}, {offset + length}) outside a buffer of {buffer.Length}");
    }
}

using Granary.Compute;
using Granary.Cuda.Native;
using Granary.Cuda.Kernels;

namespace Granary.Cuda;

/// <summary>
/// Top-k of the logits on the device, its results copied to the host without waiting (async scheduling), and the best
/// ids fed to the next step on the device (<see cref="BatchLayout.FeedsTokens"/>).
/// </summary>
public sealed unsafe partial class CudaBackend
{
    // The device's top-k results and scratch, and the host slots their copies land in: two, so that a step launched
    // before the last one is read (fed from its top-k) leaves that one's results alone.
    private CudaBuffer? _topK;
    private readonly TopKSlot[] _topKSlots = [new(), new()];
    private int _topKOldest, _topKOutstanding;
    // The last BeginTopK's best ids on the device (k a row, rows rows), and whether the step since took its tokens from them.
    private ulong _lastTopIds;
    private int _lastTopK, _lastTopRows;
    private bool _fedTokens;

    /// <remarks>
    /// Reads the oldest outstanding <see cref="BeginTopK"/>'s results when they answer these arguments, waiting only for
    /// their copy (a step launched after it may still run); otherwise begins one now and waits for it.
    /// </remarks>
    public void TopK(DeviceBuffer logits, int rows, int segmentLength, int segments, int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (ids.Length < rows * k || values.Length < rows * k || logSumExp.Length < rows) throw new ArgumentException("the result spans are too short for rows x k results");
        var request = new TopKRequest(logits, rows, segmentLength, segments, k);
        if (_topKOutstanding == 0 || _topKSlots[_topKOldest].Request != request)
        {
            _topKOutstanding = 0;
            BeginTopK(logits, rows, segmentLength, segments, k);
        }
        if (rows == 0) return;
        var slot = _topKSlots[_topKOldest];
        _topKOldest ^= 1;
        _topKOutstanding--;
        WaitFor(slot.Copied);
        slot.InFlight = false;
        byte* host = (byte*)slot.Host;
        new ReadOnlySpan<int>(host, rows * k).CopyTo(ids);
        new ReadOnlySpan<float>(host + rows * k * 4, rows * k).CopyTo(values);
        new ReadOnlySpan<float>(host + 2L * rows * k * 4, rows).CopyTo(logSumExp);
    }

    /// <summary>
    /// Queues <see cref="TopK"/>'s kernels and the copy of their results to the host, and launches the step (or its
    /// graph) without waiting: async scheduling prepares the next step while this one runs.
    /// </summary>
    public void BeginTopK(DeviceBuffer logits, int rows, int segmentLength, int segments, int k)
    {
        if ((uint)k > TopLogits.MaxK) throw new ArgumentOutOfRangeException(nameof(k), $"k must be in 0..{TopLogits.MaxK}, got {k}");
        var l = Dev(logits);
        if (l.DType != DType.F32) throw new ArgumentException($"TopK reads float32 logits, got a {l.DType} buffer", nameof(logits));
        CheckRange(l, 0, (long)segmentLength * segments * rows);
        Bind();
        if (rows == 0) return;
        // Each row's ids are split into parts of TopKItems a thread for top_k_part; top_k_merge combines them, a
        // thread a part.
        int total = segmentLength * segments, rounds = Math.Max(k, 1);
        int span = (int)Threads * KernelSource.TopKItems, parts = Math.Max(1, (total + span - 1) / span);
        if (parts > 1024) throw new NotSupportedException($"TopK over {total} ids a row: at most {1024 * span} are supported");
        uint mergeThreads = (uint)Math.Max(Threads, (parts + 31) / 32 * 32);
        long bytes = (2L * k + 1) * rows * sizeof(float);
        long candidates = (long)rows * parts * rounds, partStats = (long)rows * parts;
        long elements = bytes / sizeof(float) + 2 * candidates + 2 * partStats;
        if (_topK is null || _topK.Length < elements)
        {
            // Work already queued may read the old buffer's ids (a fed step's tokens).
            Sync();
            _topK?.Dispose();
            _topK = NewBuffer(DType.F32, Math.Max(elements, 1L << 16));
        }
        ulong idsAt = _topK.Pointer, valuesAt = idsAt + (ulong)(rows * k * 4), lseAt = valuesAt + (ulong)(rows * k * 4);
        ulong candIdsAt = _topK.Pointer + (ulong)bytes, candValuesAt = candIdsAt + (ulong)(candidates * 4);
        ulong maxAt = candValuesAt + (ulong)(candidates * 4), sumAt = maxAt + (ulong)(partStats * 4);
        // Part of the step: the kernels join the step's graph; only the candidates cross to the host.
        Launch(_fTopKPart, (uint)parts, (uint)rows, Threads, 0, P(logits), I(rows), I(segmentLength), I(segments), I(k), I(span), candIdsAt, candValuesAt, maxAt, sumAt);
        Launch(_fTopKMerge, (uint)rows, 1, mergeThreads, 0, I(parts), I(k), candIdsAt, candValuesAt, maxAt, sumAt, idsAt, valuesAt, lseAt);
        Barrier();
        var slot = TakeTopKSlot(bytes);
        Driver.Check(Driver.cuMemcpyDtoHAsync((void*)slot.Host, idsAt, (nuint)bytes, _stream), "cuMemcpyDtoHAsync");
        Driver.Check(Driver.cuEventRecord(slot.Copied, _stream), "cuEventRecord");
        slot.Request = new TopKRequest(logits, rows, segmentLength, segments, k);
        slot.InFlight = true;
        (_lastTopIds, _lastTopK, _lastTopRows) = (idsAt, k, rows);
    }

    /// <summary>
    /// The host slot for a new top-k's results. Unread ones are kept only for a step fed from the last top-k (whose
    /// step is read after this one is launched), so that none left unread by another caller is taken for a later one.
    /// </summary>
    private TopKSlot TakeTopKSlot(long bytes)
    {
        if (!_fedTokens) _topKOutstanding = 0;
        _fedTokens = false;
        if (_topKOutstanding == 2)
        {
            _topKOldest ^= 1;
            _topKOutstanding--;
        }
        var slot = _topKSlots[(_topKOldest + _topKOutstanding) & 1];
        _topKOutstanding++;
        // A dropped request's copy may still be writing into it.
        if (slot.InFlight) WaitFor(slot.Copied);
        slot.InFlight = false;
        if (slot.Bytes < bytes)
        {
            if (slot.Host != 0) Driver.cuMemFreeHost(slot.Host);
            slot.Bytes = Math.Max(bytes, 1L << 16);
            Driver.Check(Driver.cuMemHostAlloc(out slot.Host, (nuint)slot.Bytes, 0), "cuMemHostAlloc");
        }
        if (slot.Copied == 0) Driver.Check(Driver.cuEventCreate(out slot.Copied, Driver.EventDisableTiming), "cuEventCreate");
        return slot;
    }

    /// <summary>
    /// For a batch that <see cref="BatchLayout.FeedsTokens"/>: overwrites the staged token ids on the device with the last
    /// top-k's best ids of each row's source row (feed_tokens), in stream order after that top-k.
    /// </summary>
    private void FeedTokens(BatchLayout batch, int rows)
    {
        if (_lastTopIds == 0 || _lastTopK == 0) throw new InvalidOperationException("a step that feeds its tokens from the last top-k needs a top-k with candidates before it (BeginTopK)");
        for (int r = 0; r < rows; r++)
        {
            if ((uint)batch.TokenSources[r] >= (uint)_lastTopRows) throw new ArgumentOutOfRangeException(nameof(batch), $"row {r} feeds from logit row {batch.TokenSources[r]}; the last top-k has {_lastTopRows}");
        }
        ulong sources = Stage(batch.TokenSources.AsSpan(0, rows));
        Launch(_fFeedTokens, Grid(rows), 1, Threads, 0, _dTokens, sources, I(rows), _lastTopIds, I(_lastTopK));
        _fedTokens = true;
    }

    private void DisposeTopK()
    {
        _topK?.Dispose();
        foreach (var slot in _topKSlots)
        {
            if (slot.Host != 0) Driver.cuMemFreeHost(slot.Host);
            if (slot.Copied != 0) Driver.cuEventDestroy(slot.Copied);
        }
    }
}

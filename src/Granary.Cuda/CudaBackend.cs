using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Cuda.Kernels;
using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>
/// The backend on one NVIDIA GPU: bf16 activations and KV cache (float32 accumulation everywhere), GEMMs
/// through cuBLAS (a warp-per-output GEMV for steps of a few rows), the other ops as kernels compiled at
/// run time by NVRTC. All work goes to one stream in call order; host data an op needs (the batch layout,
/// row lists) is staged through a pinned ring and copied on the same stream, so nothing waits for the
/// device except <see cref="CopyToHost"/> and <see cref="Synchronize"/>.
/// </summary>
public sealed unsafe partial class CudaBackend : IBackend
{
    private const uint Threads = 256;
    private const long InitialRingBytes = 16L << 20;

    private readonly CudaBackendOptions _options;
    private readonly int _device;
    private readonly nint _context;
    private readonly nint _stream;
    private readonly nint _module;
    private readonly nint _cublas;
    private readonly int _multiprocessors;
    private readonly DType _act;
    private readonly bool _overlap;
    // Blocks resident per multiprocessor, by kernel, block size and shared-memory bytes (the GEMV's persistent grid, attention's block size).
    private readonly Dictionary<(nint, uint, uint), int> _occupancy = [];
    private readonly nint _fConvert, _fEmbedding, _fRmsNorm, _fRope, _fSiluMul, _fAdd, _fAddBias, _fWriteKv, _fRopeWriteKv, _fAttention, _fGatherRows, _fScaleAddRows, _fGemv, _fGemvGated, _fGemvSplit, _fTopKPart, _fTopKMerge, _fFeedTokens, _fSplitStacked, _fSiluMulStacked;

    private nint _download;
    private long _downloadBytes;
    // The float32 product of stacked weights (q, k and v; gate and up) before it is split.
    private CudaBuffer? _stacked;
    // What the download buffer holds: elements [_cachedStart, _cachedEnd) of _cachedSource as of op epoch _cachedEpoch.
    private CudaBuffer? _cachedSource;
    private long _cachedStart, _cachedEnd, _cachedEpoch = -1, _epoch;
    private int _lastLogitRows = 1;

    private BatchLayout? _layout;
    private long _layoutVersion;
    private ulong _dTokens, _dPositions, _dSlots, _dRowSequence;
    private BatchLayout? _tablesLayout;
    private long _tablesVersion;
    private int _tablesBlockSize;
    private ulong _dTables;
    private int _tableStride;

    private bool _disposed;

    // Set once NCCL collectives run on the stream (WatchCollectives): the waits poll, so that they can be interrupted.
    private TimeSpan? _collectiveTimeout;
    private string? _interrupted;
    // Set while bench-local times the device's idle gaps between step graphs.
    private StepGapTimer? _gapTimer;
    private long _steps;
    private ulong _cublasWorkspace;
    // alpha, beta = 0 (overwrite), beta = 1 (accumulate)
    private static readonly float[] s_alphaBeta = [1f, 0f, 1f];

    [ThreadStatic] private static nint t_current;

    /// <summary>Opens the device, compiles (or loads from the cache) the kernels and creates the cuBLAS handle.</summary>
    public CudaBackend(CudaBackendOptions? options = null)
    {
        _options = options ?? new CudaBackendOptions();
        if (_options.Quantization == WeightQuantization.Q8_0) throw new NotSupportedException("--quantization q8_0 runs on the CPU backend only (the CUDA backend quantizes to fp8)");
        NativeLibraries.Require(CudaLibrary.Driver);
        NativeLibraries.Require(CudaLibrary.Nvrtc);
        NativeLibraries.Require(CudaLibrary.Cublas);
        Driver.Check(Driver.cuInit(0), "cuInit");
        Driver.Check(Driver.cuDeviceGetCount(out int count), "cuDeviceGetCount");
        if (_options.Device < 0 || _options.Device >= count)
            throw new CudaUnavailableException($"cuda:{_options.Device} requested but {count} CUDA device(s) are visible");
        Driver.Check(Driver.cuDeviceGet(out _device, _options.Device), "cuDeviceGet");
        byte* name = stackalloc byte[256];
        Driver.Check(Driver.cuDeviceGetName(name, 256, _device), "cuDeviceGetName");
        DeviceName = Marshal.PtrToStringUTF8((nint)name) ?? "?";
        Driver.Check(Driver.cuDeviceGetAttribute(out int major, Driver.AttrComputeCapabilityMajor, _device), "cuDeviceGetAttribute");
        Driver.Check(Driver.cuDeviceGetAttribute(out int minor, Driver.AttrComputeCapabilityMinor, _device), "cuDeviceGetAttribute");
        Driver.Check(Driver.cuDeviceGetAttribute(out _multiprocessors, Driver.AttrMultiprocessorCount, _device), "cuDeviceGetAttribute");
        ComputeCapability = (major, minor);
        byte* uuid = stackalloc byte[16];
        Driver.Check(Driver.cuDeviceGetUuid(uuid, _device), "cuDeviceGetUuid");
        DeviceUuid = new Guid(new ReadOnlySpan<byte>(uuid, 16));
        Driver.Check(Driver.cuDevicePrimaryCtxRetain(out _context, _device), "cuDevicePrimaryCtxRetain");
        Bind();
        Driver.Check(Driver.cuStreamCreate(out _stream, Driver.StreamNonBlocking), "cuStreamCreate");
        _act = _options.Float32Activations ? DType.F32 : DType.BF16;
        // Programmatic dependent launch needs sm_90 and a driver of CUDA 12.3 or later (cuLaunchKernelEx, and its edges in captured graphs).
        Driver.Check(Driver.cuDriverGetVersion(out int driverVersion), "cuDriverGetVersion");
        _overlap = _options.OverlapKernels && major >= 9 && driverVersion >= 12030;

        var cache = _options.KernelCacheDirectory is { } dir ? new KernelCache(dir) : KernelCache.Default();
        string[] compileOptions = KernelCompiler.Options(major, minor, _options.Float32Activations);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var image = KernelCompiler.Compile(ModuleCode, compileOptions, cache, out string key, out bool fromCache);
        int status;
        fixed (byte* p = image) status = Driver.cuModuleLoadData(out _module, p);
        if (status != 0 && fromCache)
        {
            // A damaged or foreign cache entry: compile afresh.
            cache.Remove(key);
            image = KernelCompiler.Compile(ModuleCode, compileOptions, cache, out key, out fromCache);
            fixed (byte* p = image) status = Driver.cuModuleLoadData(out _module, p);
        }
        Driver.Check(status, "cuModuleLoadData");
        KernelsFromCache = fromCache;
        KernelLoadTime = clock.Elapsed;
        _fConvert = Function("convert");
        _fEmbedding = Function("embedding");
        _fRmsNorm = Function("rms_norm");
        _fRope = Function("rope");
        _fSiluMul = Function("silu_mul");
        _fAdd = Function("add");
        _fAddBias = Function("add_bias");
        _fWriteKv = Function("write_kv");
        _fRopeWriteKv = Function("rope_write_kv");
        _fAttention = Function("attention");
        _fGatherRows = Function("gather_rows");
        _fScaleAddRows = Function("scale_add_rows");
        _fGemv = Function("gemv");
        _fGemvGated = Function("gemv_gated");
        _fSplitStacked = Function("split_stacked");
        _fSiluMulStacked = Function("silu_mul_stacked");
        _fGemvSplit = Function("gemv_split");
        (_fGemvFp8, _fGemvFp8Gated, _fGemvFp8Split) = (Function("gemv_fp8"), Function("gemv_fp8_gated"), Function("gemv_fp8_split"));
        _fTopKPart = Function("top_k_part");
        _fTopKMerge = Function("top_k_merge");
        _fFeedTokens = Function("feed_tokens");
        _fGemmFp8 = [Function("gemm_fp8_n8"), Function("gemm_fp8_n16"), Function("gemm_fp8_n32"), Function("gemm_fp8_n64")];
        _fEmbeddingFp8 = Function("embedding_fp8");

        Cublas.Check(Cublas.cublasCreate(out _cublas), "cublasCreate");
        Cublas.Check(Cublas.cublasSetStream(_cublas, _stream), "cublasSetStream");
        // A workspace of our own: cuBLAS must not allocate while a graph is being captured.
        Driver.Check(Driver.cuMemAlloc(out _cublasWorkspace, 32 << 20), "cuMemAlloc");
        Cublas.Check(Cublas.cublasSetWorkspace_v2(_cublas, _cublasWorkspace, 32 << 20), "cublasSetWorkspace");
        GrowRing(InitialRingBytes);
    }

    public string Name => $"cuda:{_options.Device} ({DeviceName}, sm_{ComputeCapability.Major}{ComputeCapability.Minor}, {_act} activations{(_options.Graphs ? ", step graphs" : "")}{(_overlap ? ", overlapped kernels" : "")})";

    public DType ActivationType => _act;

    public DType ResidualType => DType.F32;

    /// <summary>The device's name as the driver reports it.</summary>
    public string DeviceName { get; }

    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>Whether the kernels came from the on-disk cache rather than NVRTC.</summary>
    public bool KernelsFromCache { get; }

    /// <summary>Time to compile or load the kernels.</summary>
    public TimeSpan KernelLoadTime { get; }

    /// <summary>The device's UUID (a MIG instance's own under MIG): two ranks on one GPU have the same.</summary>
    public Guid DeviceUuid { get; }

    /// <summary>CUDA devices this process can see (0 without a driver).</summary>
    public static int VisibleDevices()
    {
        try
        {
            NativeLibraries.Require(CudaLibrary.Driver);
        }
        catch (CudaUnavailableException)
        {
            return 0;
        }
        return Driver.cuInit(0) == 0 && Driver.cuDeviceGetCount(out int count) == 0 ? count : 0;
    }

    /// <summary>The stream all work of this backend runs on (collectives join it).</summary>
    public nint Stream => _stream;

    public DeviceBuffer Allocate(DType dtype, long length)
    {
        Bind();
        Barrier();
        var buffer = NewBuffer(dtype, length);
        Driver.Check(Driver.cuMemsetD8Async(buffer.Pointer, 0, (nuint)Math.Max(buffer.ByteLength, 1), _stream), "cuMemsetD8Async");
        return buffer;
    }

    public DeviceBuffer Upload(DType dtype, ReadOnlySpan<byte> data)
    {
        if (dtype == DType.F8E4M3) throw new ArgumentException("FP8 weights are uploaded with their scales, through UploadWeight", nameof(dtype));
        if (data.Length % dtype.Size() != 0) throw new ArgumentException($"{data.Length} bytes is not a whole number of {dtype} elements", nameof(data));
        Bind();
        Barrier();
        var buffer = NewBuffer(dtype, data.Length / dtype.Size());
        fixed (byte* p = data)
        {
            Driver.Check(Driver.cuMemcpyHtoDAsync(buffer.Pointer, p, (nuint)data.Length, _stream), "cuMemcpyHtoDAsync");
            Sync();
        }
        return buffer;
    }

    public DeviceBuffer Slice(DeviceBuffer buffer, long offset, long length)
    {
        var b = Dev(buffer);
        CheckRange(b, offset, length);
        if (b.DType == DType.F8E4M3) return SliceFp8(b, offset, length);
        return new CudaBuffer(this, b.DType, length, b.Pointer + (ulong)(offset * b.DType.Size()), owns: false);
    }

    public void CopyFromHost(ReadOnlySpan<float> source, DeviceBuffer destination, long offset = 0)
    {
        var d = Dev(destination);
        CheckRange(d, offset, source.Length);
        Bind();
        Barrier();
        int size = d.DType.Size();
        const int Chunk = 1 << 20;
        for (int start = 0; start < source.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, source.Length - start);
            var (host, _) = RingAlloc((long)n * size);
            var part = source.Slice(start, n);
            switch (d.DType)
            {
                case DType.F32: part.CopyTo(new Span<float>((void*)host, n)); break;
                case DType.BF16: { ushort* h = (ushort*)host; for (int i = 0; i < n; i++) h[i] = ToBf16(part[i]); break; }
                case DType.F16: { Half* h = (Half*)host; for (int i = 0; i < n; i++) h[i] = (Half)part[i]; break; }
                default: throw new ArgumentException($"cannot copy floats into a {d.DType} buffer");
            }
            Driver.Check(Driver.cuMemcpyHtoDAsync(d.Pointer + (ulong)((offset + start) * size), (void*)host, (nuint)((long)n * size), _stream), "cuMemcpyHtoDAsync");
        }
        Sync();
    }

    /// <remarks>
    /// The engine reads logits one row at a time after a step; the first read fetches the rows of every
    /// logit row of the step in one transfer and later reads, with no op issued in between, are served
    /// from that copy.
    /// </remarks>
    public void CopyToHost(DeviceBuffer source, Span<float> destination, long offset = 0)
    {
        var s = Dev(source);
        CheckRange(s, offset, destination.Length);
        Bind();
        int size = s.DType.Size();
        long end = offset + destination.Length;
        if (!(ReferenceEquals(s, _cachedSource) && _cachedEpoch == _epoch && offset >= _cachedStart && end <= _cachedEnd))
        {
            long fetchEnd = Math.Min(s.Length, offset + Math.Max(1, destination.Length) * (long)Math.Max(1, _lastLogitRows));
            if ((fetchEnd - offset) * size > (256L << 20)) fetchEnd = end;
            Download(s.Pointer + (ulong)(offset * size), (fetchEnd - offset) * size);
            (_cachedSource, _cachedStart, _cachedEnd, _cachedEpoch) = (s, offset, fetchEnd, _epoch);
        }
        byte* from = (byte*)_download + (offset - _cachedStart) * size;
        switch (s.DType)
        {
            case DType.F32: new ReadOnlySpan<float>(from, destination.Length).CopyTo(destination); break;
            case DType.I32: { int* h = (int*)from; for (int i = 0; i < destination.Length; i++) destination[i] = h[i]; break; }
            default: HostConversions.ToFloat(s.DType, new ReadOnlySpan<byte>(from, destination.Length * size), destination); break;
        }
    }

    /// <summary>Ends the step (launching it, or its graph), copies device bytes into the pinned download buffer and waits; returns that buffer.</summary>
    private byte* Download(ulong source, long bytes)
    {
        Barrier();
        _cachedSource = null;
        if (bytes > _downloadBytes)
        {
            // An earlier copy may still be writing into the old buffer.
            Sync();
            if (_download != 0) Driver.cuMemFreeHost(_download);
            _downloadBytes = Math.Max(bytes, 1L << 20);
            Driver.Check(Driver.cuMemHostAlloc(out _download, (nuint)_downloadBytes, 0), "cuMemHostAlloc");
        }
        if (bytes > 0) Driver.Check(Driver.cuMemcpyDtoHAsync((void*)_download, source, (nuint)bytes, _stream), "cuMemcpyDtoHAsync");
        Sync();
        return (byte*)_download;
    }

    public void Zero(DeviceBuffer buffer, long length)
    {
        var b = Dev(buffer);
        CheckRange(b, 0, length);
        Bind();
        if (length > 0) Memset(b.Pointer, length * b.DType.Size());
    }

    public void Embedding(DeviceBuffer table, int vocabStart, int vocabRows, int dim, BatchLayout batch, DeviceBuffer output)
    {
        Bind();
        EnsureLayout(batch);
        var o = ActOrResidual(output);
        CheckRange(o, 0, (long)batch.Rows * dim);
        CheckRange(Dev(table), 0, (long)vocabRows * dim);
        if (batch.Rows == 0) return;
        if (IsFp8(table))
        {
            Fp8Embedding(Dev(table), vocabStart, vocabRows, dim, batch.Rows, o);
            return;
        }
        Launch(_fEmbedding, (uint)batch.Rows, 1, Threads, 0, P(table), I((int)table.DType), _dTokens, I(vocabStart), I(vocabRows), I(dim), P(output), I((int)o.DType));
    }

    public void RmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer output, int rows, int dim, float eps)
    {
        Bind();
        var xb = ActOrResidual(x);
        CheckRange(xb, 0, (long)rows * dim);
        CheckRows(rows, dim, output);
        CheckRange(Act(weight), 0, dim);
        if (rows == 0) return;
        Launch(_fRmsNorm, (uint)rows, 1, NormThreads(dim), 0, P(x), I((int)xb.DType), P(weight), P(output), I(dim), F(eps));
    }

    public void MatMul(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer y, int rows, int inFeatures, int outFeatures) =>
        MatMul(x, [new Projection(weight, bias, y, outFeatures)], rows, inFeatures);

    public void MatMul(DeviceBuffer x, ReadOnlySpan<Projection> projections, int rows, int inFeatures)
    {
        Bind();
        CheckRange(Act(x), 0, (long)rows * inFeatures);
        bool floatOut = CheckProjections(projections, rows, inFeatures);
        if (rows == 0 || projections.Length == 0) return;
        if (UsesGemv(rows, inFeatures) && projections.Length <= 3)
        {
            GemvProjections(x, null, 0, projections, inFeatures, floatOut);
            return;
        }
        if (IsFp8(projections[0].Weight))
        {
            Fp8Projections(x, projections, rows, inFeatures, floatOut);
            return;
        }
        if (!floatOut && projections.Length is 2 or 3 && StackedProjections(projections, inFeatures))
        {
            // One GEMM over the stacked weights, then one kernel splits the product and adds the biases.
            var a = projections[0];
            var b = projections[1];
            var c = projections.Length > 2 ? projections[2] : b;
            int e1 = a.OutFeatures, e2 = e1 + b.OutFeatures, total = projections.Length > 2 ? e2 + c.OutFeatures : e2;
            ulong product = StackedScratch((long)rows * total);
            Gemm(P(x), Dev(a.Weight).Pointer, product, rows, inFeatures, total, floatOut: true);
            Launch(_fSplitStacked, Grid((long)rows * total), 1, Threads, 0, product, I(rows), I(e1), I(e2), I(total),
                P(a.Output), P(b.Output), P(c.Output), Bias(a.Bias), Bias(b.Bias), projections.Length > 2 ? Bias(c.Bias) : 0);
            return;
        }
        foreach (var p in projections)
        {
            Gemm(P(x), InActivationType(Dev(p.Weight)).Pointer, P(p.Output), rows, inFeatures, p.OutFeatures, floatOut);
            if (p.Bias is { } bias)
                Launch(_fAddBias, Grid((long)rows * p.OutFeatures), 1, Threads, 0, P(p.Output), P(bias), I(rows), I(p.OutFeatures));
        }
    }

    /// <summary>Whether the projections' weights lie back to back in the activation type (views of one stacked buffer).</summary>
    private bool StackedProjections(ReadOnlySpan<Projection> projections, int inFeatures)
    {
        for (int i = 1; i < projections.Length; i++)
        {
            if (!Follows(Dev(projections[i - 1].Weight), (long)projections[i - 1].OutFeatures * inFeatures, Dev(projections[i].Weight))) return false;
        }
        return true;
    }

    /// <summary>
    /// Whether <paramref name="next"/> starts right after the first <paramref name="elements"/> elements of
    /// <paramref name="first"/>, both in the activation type: one GEMM can read them as one matrix.
    /// </summary>
    private bool Follows(CudaBuffer first, long elements, CudaBuffer next) =>
        first.DType == _act && next.DType == _act && next.Pointer == first.Pointer + (ulong)(elements * _act.Size());

    /// <summary>Device address of float32 scratch for a stacked product of <paramref name="elements"/> elements.</summary>
    private ulong StackedScratch(long elements)
    {
        if (_stacked is null || _stacked.Length < elements)
        {
            // Step graphs that used the old buffer no longer match the steps to come (their addresses differ).
            Barrier();
            _stacked?.Dispose();
            _stacked = NewBuffer(DType.F32, Math.Max(elements, _stacked is null ? 0 : 2 * _stacked.Length));
        }
        return _stacked.Pointer;
    }

    /// <remarks>With the GEMV kernel, each block normalizes the float32 rows itself; <paramref name="normed"/> stays untouched.</remarks>
    public void NormMatMul(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer normed, ReadOnlySpan<Projection> projections, int rows, int inFeatures)
    {
        Bind();
        bool fused = CheckNorm(x, normWeight, normed, rows, inFeatures);
        bool floatOut = CheckProjections(projections, rows, inFeatures);
        if (rows == 0 || projections.Length == 0) return;
        if (fused && projections.Length <= 3)
        {
            GemvProjections(x, normWeight, eps, projections, inFeatures, floatOut);
            return;
        }
        RmsNorm(x, normWeight, normed, rows, inFeatures, eps);
        MatMul(normed, projections, rows, inFeatures);
    }

    public void GatedMatMul(DeviceBuffer x, DeviceBuffer gate, DeviceBuffer up, DeviceBuffer gateOut, DeviceBuffer upOut, int rows, int inFeatures, int outFeatures)
    {
        Bind();
        CheckRange(Act(x), 0, (long)rows * inFeatures);
        CheckGated(gate, up, gateOut, upOut, rows, inFeatures, outFeatures);
        if (rows == 0) return;
        if (UsesGemv(rows, inFeatures))
        {
            GemvGated(x, null, 0, GemvWeight(gate), GemvWeight(up), gateOut, inFeatures, outFeatures);
            return;
        }
        if (IsFp8(gate))
        {
            Fp8Gated(x, Dev(gate), Dev(up), gateOut, rows, inFeatures, outFeatures);
            return;
        }
        var g = InActivationType(Dev(gate));
        var u = InActivationType(Dev(up));
        long n = (long)rows * outFeatures;
        if (Follows(g, (long)outFeatures * inFeatures, u))
        {
            // Gate and up stacked: one GEMM, and silu(gate) * up from its float32 product, rounded once.
            ulong product = StackedScratch(2 * n);
            Gemm(P(x), g.Pointer, product, rows, inFeatures, 2 * outFeatures, floatOut: true);
            Launch(_fSiluMulStacked, Grid(n), 1, Threads, 0, product, I(rows), I(outFeatures), P(gateOut));
            return;
        }
        Gemm(P(x), g.Pointer, P(gateOut), rows, inFeatures, outFeatures, floatOut: false);
        Gemm(P(x), u.Pointer, P(upOut), rows, inFeatures, outFeatures, floatOut: false);
        Launch(_fSiluMul, Grid(n), 1, Threads, 0, P(gateOut), P(upOut), P(gateOut), (ulong)n);
    }

    /// <remarks>With the GEMV kernel, each block normalizes the float32 rows itself; <paramref name="normed"/> stays untouched.</remarks>
    public void NormGatedMatMul(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer normed, DeviceBuffer gate, DeviceBuffer up, DeviceBuffer gateOut, DeviceBuffer upOut, int rows, int inFeatures, int outFeatures)
    {
        Bind();
        bool fused = CheckNorm(x, normWeight, normed, rows, inFeatures);
        CheckGated(gate, up, gateOut, upOut, rows, inFeatures, outFeatures);
        if (rows == 0) return;
        if (fused)
        {
            GemvGated(x, normWeight, eps, GemvWeight(gate), GemvWeight(up), gateOut, inFeatures, outFeatures);
            return;
        }
        RmsNorm(x, normWeight, normed, rows, inFeatures, eps);
        GatedMatMul(normed, gate, up, gateOut, upOut, rows, inFeatures, outFeatures);
    }

    /// <remarks>
    /// Without a bias, the GEMV kernel or cuBLAS adds the float32 product to the residual (not rounded to bf16 first);
    /// <paramref name="scratch"/> stays untouched.
    /// </remarks>
    public void MatMulAddResidual(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer scratch, DeviceBuffer residual, int rows, int inFeatures, int outFeatures)
    {
        Bind();
        var r = Dev(residual);
        if (r.DType != ResidualType) throw new ArgumentException($"the residual stream is {ResidualType} on the CUDA backend, got a {r.DType} buffer", nameof(residual));
        CheckRange(r, 0, (long)rows * outFeatures);
        CheckRange(Act(x), 0, (long)rows * inFeatures);
        CheckRange(Act(scratch), 0, (long)rows * outFeatures);
        CheckRange(Dev(weight), 0, (long)inFeatures * outFeatures);
        if (bias is not null) CheckRange(Act(bias), 0, outFeatures);
        if (rows == 0) return;
        if (UsesGemv(rows, inFeatures))
        {
            var w = GemvWeight(weight);
            Gemv(false, P(x), 0, 0, w, w, w, P(residual), 0, 0, Bias(bias), 0, 0, outFeatures, outFeatures, outFeatures, inFeatures, GemvResidual);
            return;
        }
        if (IsFp8(weight))
        {
            Fp8AddResidual(x, Dev(weight), bias, residual, rows, inFeatures, outFeatures);
            return;
        }
        if (bias is null)
        {
            // cuBLAS adds the float32 product to the residual itself (beta = 1).
            Gemm(P(x), InActivationType(Dev(weight)).Pointer, P(residual), rows, inFeatures, outFeatures, floatOut: true, accumulate: true);
            return;
        }
        MatMul(x, weight, bias, scratch, rows, inFeatures, outFeatures);
        Add(residual, scratch, (long)rows * outFeatures);
    }

    private static ulong Bias(DeviceBuffer? bias) => bias is null ? 0 : P(bias);

    /// <summary>Checks the projections of a MatMul; returns whether they write float32.</summary>
    private bool CheckProjections(ReadOnlySpan<Projection> projections, int rows, int inFeatures)
    {
        // y may also be float32 (logits kept at full precision); x and the weights are in the activation type.
        bool floatOut = false;
        for (int i = 0; i < projections.Length; i++)
        {
            var p = projections[i];
            CheckRange(Dev(p.Weight), 0, (long)inFeatures * p.OutFeatures);
            if (IsFp8(p.Weight) != IsFp8(projections[0].Weight)) throw new NotSupportedException("the projections of one MatMul are all FP8 or none");
            var yb = Dev(p.Output);
            if (yb.DType != _act && yb.DType != DType.F32) throw new ArgumentException($"MatMul writes {_act} or F32, got a {yb.DType} buffer");
            if (i > 0 && (yb.DType == DType.F32) != floatOut) throw new ArgumentException("the projections of one MatMul write one element type");
            floatOut = yb.DType == DType.F32;
            CheckRange(yb, 0, (long)rows * p.OutFeatures);
            if (p.Bias is { } bias)
            {
                if (floatOut && _act != DType.F32) throw new NotSupportedException("a bias on a float32 MatMul output");
                CheckRange(Act(bias), 0, p.OutFeatures);
            }
        }
        return floatOut;
    }

    /// <summary>Checks a norm's input, weight and output; returns whether the GEMV kernel can normalize the input itself.</summary>
    private bool CheckNorm(DeviceBuffer x, DeviceBuffer normWeight, DeviceBuffer normed, int rows, int inFeatures)
    {
        var xb = ActOrResidual(x);
        CheckRange(xb, 0, (long)rows * inFeatures);
        CheckRange(Act(normWeight), 0, inFeatures);
        CheckRange(Act(normed), 0, (long)rows * inFeatures);
        return xb.DType == DType.F32 && UsesGemv(rows, inFeatures);
    }

    private void CheckGated(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer gateOut, DeviceBuffer upOut, int rows, int inFeatures, int outFeatures)
    {
        CheckRange(Dev(gate), 0, (long)inFeatures * outFeatures);
        CheckRange(Dev(up), 0, (long)inFeatures * outFeatures);
        if (IsFp8(gate) != IsFp8(up)) throw new NotSupportedException("gate and up are both FP8 or neither");
        CheckRange(Act(gateOut), 0, (long)rows * outFeatures);
        CheckRange(Act(upOut), 0, (long)rows * outFeatures);
    }

    /// <summary>cuBLAS: y[rows, out] = x[rows, in] W[out, in]^T.</summary>
    private void Gemm(ulong x, ulong w, ulong y, int rows, int inFeatures, int outFeatures, bool floatOut, bool accumulate = false)
    {
        // Row-major y[rows, out] = x[rows, in] W[out, in]^T is column-major y^T = W^T x^T: W is a
        // column-major [in, out] matrix used transposed, x a column-major [in, rows] one.
        int type = _act == DType.BF16 ? Cublas.R16BF : Cublas.R32F;
        var op = new StreamOp { Kind = StreamOpKind.Gemm, ArgCount = 9 };
        op.Args[0] = (uint)outFeatures; op.Args[1] = (uint)rows; op.Args[2] = (uint)inFeatures;
        op.Args[3] = w; op.Args[4] = x; op.Args[5] = y;
        op.Args[6] = (uint)type; op.Args[7] = (uint)(floatOut ? Cublas.R32F : type); op.Args[8] = accumulate ? 1UL : 0;
        Issue(op);
    }

    public void Rope(DeviceBuffer x, int rows, int heads, int headDim, BatchLayout batch, DeviceBuffer cosSin)
    {
        Bind();
        if (cosSin.DType != DType.F32) throw new ArgumentException($"the RoPE table must be float32, got {cosSin.DType}", nameof(cosSin));
        CheckRange(Act(x), 0, (long)rows * heads * headDim);
        EnsureLayout(batch);
        long n = (long)rows * heads * (headDim / 2);
        if (n == 0) return;
        Launch(_fRope, Grid(n), 1, Threads, 0, P(x), I(rows), I(heads), I(headDim), _dPositions, P(cosSin));
    }

    public void SiluMul(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer output, long length)
    {
        Bind();
        CheckRange(Act(gate), 0, length);
        CheckRange(Act(up), 0, length);
        CheckRange(Act(output), 0, length);
        if (length == 0) return;
        Launch(_fSiluMul, Grid(length), 1, Threads, 0, P(gate), P(up), P(output), (ulong)length);
    }

    public void Add(DeviceBuffer target, DeviceBuffer source, long length)
    {
        Bind();
        var t = ActOrResidual(target);
        var so = ActOrResidual(source);
        CheckRange(t, 0, length);
        CheckRange(so, 0, length);
        if (length == 0) return;
        Launch(_fAdd, Grid(length), 1, Threads, 0, P(target), I((int)t.DType), P(source), I((int)so.DType), (ulong)length);
    }

    public void WriteKv(DeviceBuffer k, DeviceBuffer v, DeviceBuffer kCache, DeviceBuffer vCache, int kvDim, BatchLayout batch)
    {
        Bind();
        CheckSlots(k, v, kCache, vCache, kvDim, batch);
        EnsureLayout(batch);
        if (batch.Rows == 0) return;
        Launch(_fWriteKv, Grid((long)batch.Rows * kvDim), 1, Threads, 0, P(k), P(v), P(kCache), P(vCache), _dSlots, I(batch.Rows), I(kvDim));
    }

    /// <summary>Checks the keys and values of a KV write and that every row's slot lies inside the caches.</summary>
    private void CheckSlots(DeviceBuffer k, DeviceBuffer v, DeviceBuffer kCache, DeviceBuffer vCache, int kvDim, BatchLayout batch)
    {
        long slots = Act(kCache).Length / kvDim;
        CheckRange(Act(vCache), 0, slots * kvDim);
        CheckRange(Act(k), 0, (long)batch.Rows * kvDim);
        CheckRange(Act(v), 0, (long)batch.Rows * kvDim);
        for (int r = 0; r < batch.Rows; r++)
        {
            long slot = batch.SlotMapping[r];
            if ((ulong)slot >= (ulong)slots) throw new ArgumentOutOfRangeException(nameof(batch), $"row {r} maps to KV slot {slot} outside the cache's {slots} slots");
        }
    }

    /// <remarks>
    /// When every row is its sequence's only row in the step (decode), one attention kernel also rotates q and k and
    /// stores k and v; otherwise rope_write_kv runs first.
    /// </remarks>
    public void RopeAttention(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer output,
        int heads, int kvHeads, int headDim, int blockSize, float scale, BatchLayout batch, DeviceBuffer cosSin)
    {
        Bind();
        if (cosSin.DType != DType.F32) throw new ArgumentException($"the RoPE table must be float32, got {cosSin.DType}", nameof(cosSin));
        CheckSlots(k, v, kCache, vCache, kvHeads * headDim, batch);
        CheckAttention(q, kCache, vCache, output, heads, kvHeads, headDim, batch.Rows);
        EnsureLayout(batch);
        EnsureTables(batch, blockSize);
        if (OneRowPerSequence(batch))
        {
            LaunchAttention(q, kCache, vCache, output, heads, kvHeads, headDim, blockSize, scale, batch.Rows, P(k), P(v), P(cosSin));
            return;
        }
        long n = (long)batch.Rows * (heads + kvHeads) * (headDim / 2);
        if (n > 0)
            Launch(_fRopeWriteKv, Grid(n), 1, Threads, 0, P(q), P(k), P(v), P(kCache), P(vCache), I(batch.Rows), I(heads), I(kvHeads), I(headDim), _dPositions, _dSlots, P(cosSin));
        LaunchAttention(q, kCache, vCache, output, heads, kvHeads, headDim, blockSize, scale, batch.Rows, 0, 0, 0);
    }

    /// <summary>Whether no two rows belong to one sequence (rows in sequence order, so increasing sequence numbers tell).</summary>
    private static bool OneRowPerSequence(BatchLayout batch)
    {
        for (int r = 1; r < batch.Rows; r++)
        {
            if (batch.RowSequence[r] <= batch.RowSequence[r - 1]) return false;
        }
        return true;
    }

    public void Attention(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer output, int heads, int kvHeads, int headDim, int blockSize, float scale, BatchLayout batch)
    {
        Bind();
        CheckAttention(q, kCache, vCache, output, heads, kvHeads, headDim, batch.Rows);
        EnsureLayout(batch);
        EnsureTables(batch, blockSize);
        LaunchAttention(q, kCache, vCache, output, heads, kvHeads, headDim, blockSize, scale, batch.Rows, 0, 0, 0);
    }

    private void CheckAttention(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer output, int heads, int kvHeads, int headDim, int rows)
    {
        if (heads % kvHeads != 0) throw new ArgumentException($"{heads} query heads cannot share {kvHeads} KV heads evenly");
        if (headDim > 1024) throw new ArgumentException($"head dimension {headDim} is above the 1024 the attention kernel supports");
        CheckRange(Act(q), 0, (long)rows * heads * headDim);
        CheckRange(Act(output), 0, (long)rows * heads * headDim);
        Act(kCache);
        Act(vCache);
    }

    /// <summary>
    /// The attention kernel over the staged layout and block tables; with <paramref name="newK"/> it also rotates q
    /// and k and stores k and v (see its comment).
    /// </summary>
    private void LaunchAttention(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer output, int heads, int kvHeads, int headDim, int blockSize, float scale,
        int rows, ulong newK, ulong newV, ulong cosSin)
    {
        if (rows == 0) return;
        // 256 threads, so that several key groups accumulate values in parallel for head sizes up to 128; but 128
        // when (heads, rows) blocks of 256 would take more than one wave: a block's time is mostly latency, so one
        // wave of small blocks beats two of large ones. At least a thread per dimension.
        uint threads = Threads;
        if ((long)heads * rows > (long)_multiprocessors * Occupancy(_fAttention, Threads, AttentionShared(headDim, Threads))) threads = Threads / 2;
        threads = (uint)Math.Max(threads, (headDim + 31) / 32 * 32);
        uint shared = AttentionShared(headDim, threads);
        Launch(_fAttention, (uint)heads, (uint)rows, threads, shared, P(q), P(kCache), P(vCache), P(output),
            _dPositions, _dRowSequence, _dTables, I(_tableStride), I(heads), I(kvHeads), I(headDim), I(blockSize), F(scale), newK, newV, _dSlots, cosSin);
    }

    /// <summary>Dynamic shared memory of the attention kernel (see the layout at its start).</summary>
    private uint AttentionShared(int headDim, uint threads) =>
        (uint)(2 * headDim * _act.Size() + (headDim + KernelSource.AttentionChunk + 33 + 8 * threads + KernelSource.AttentionChunk) * 4);

    public void GatherRows(DeviceBuffer source, DeviceBuffer destination, int cols, ReadOnlySpan<int> rows)
    {
        Bind();
        var s = Act(source);
        CheckRange(Act(destination), 0, (long)rows.Length * cols);
        foreach (int r in rows)
        {
            if (r < 0 || (long)(r + 1) * cols > s.Length) throw new ArgumentOutOfRangeException(nameof(rows), $"row {r} is outside the source's {s.Length / Math.Max(cols, 1)} rows");
        }
        if (rows.Length == 0) return;
        ulong dRows = Stage(rows);
        Launch(_fGatherRows, (uint)rows.Length, 1, Threads, 0, P(source), P(destination), I(cols), dRows);
    }

    public void ScaleAddRows(DeviceBuffer source, DeviceBuffer destination, int cols, ReadOnlySpan<int> rows, ReadOnlySpan<float> scales)
    {
        Bind();
        if (scales.Length < rows.Length) throw new ArgumentException("one scale per row is needed", nameof(scales));
        CheckRange(Act(source), 0, (long)rows.Length * cols);
        var d = Act(destination);
        foreach (int r in rows)
        {
            if (r < 0 || (long)(r + 1) * cols > d.Length) throw new ArgumentOutOfRangeException(nameof(rows), $"row {r} is outside the destination's {d.Length / Math.Max(cols, 1)} rows");
        }
        if (rows.Length == 0 || cols == 0) return;
        ulong dRows = Stage(rows);
        ulong dScales = Stage(scales[..rows.Length]);
        Launch(_fScaleAddRows, (uint)((cols + Threads - 1) / Threads), 1, Threads, 0, P(source), P(destination), I(cols), dRows, dScales, I(rows.Length));
    }

    public void Synchronize()
    {
        Bind();
        Sync();
    }

    /// <summary>
    /// Device-to-device copy bandwidth in GB/s (bytes read plus bytes written), the ceiling of the
    /// memory-bound decode step: the median of timed copies of <paramref name="bytes"/>.
    /// </summary>
    public double MeasureCopyBandwidthGBps(long bytes = 1L << 30, int repeats = 10)
    {
        Bind();
        Barrier();
        Driver.Check(Driver.cuMemAlloc(out ulong a, (nuint)bytes), "cuMemAlloc");
        Driver.Check(Driver.cuMemAlloc(out ulong b, (nuint)bytes), "cuMemAlloc");
        Driver.Check(Driver.cuEventCreate(out nint start, 0), "cuEventCreate");
        Driver.Check(Driver.cuEventCreate(out nint end, 0), "cuEventCreate");
        try
        {
            Driver.Check(Driver.cuMemsetD8Async(a, 1, (nuint)bytes, _stream), "cuMemsetD8Async");
            Driver.Check(Driver.cuMemcpyDtoDAsync(b, a, (nuint)bytes, _stream), "cuMemcpyDtoDAsync");
            var times = new List<float>();
            for (int i = 0; i < repeats; i++)
            {
                Driver.Check(Driver.cuEventRecord(start, _stream), "cuEventRecord");
                Driver.Check(Driver.cuMemcpyDtoDAsync(i % 2 == 0 ? b : a, i % 2 == 0 ? a : b, (nuint)bytes, _stream), "cuMemcpyDtoDAsync");
                Driver.Check(Driver.cuEventRecord(end, _stream), "cuEventRecord");
                Driver.Check(Driver.cuEventSynchronize(end), "cuEventSynchronize");
                Driver.Check(Driver.cuEventElapsedTime(out float ms, start, end), "cuEventElapsedTime");
                times.Add(ms);
            }
            times.Sort();
            return 2.0 * bytes / (times[times.Count / 2] / 1000.0) / 1e9;
        }
        finally
        {
            Driver.cuEventDestroy(start);
            Driver.cuEventDestroy(end);
            Driver.cuMemFree(a);
            Driver.cuMemFree(b);
        }
    }

    /// <summary>Free and total device memory in bytes.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        Bind();
        Driver.Check(Driver.cuMemGetInfo(out nuint free, out nuint total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    public void Dispose()
    {
        if (_disposed) return;
        Bind();
        Barrier();
        _disposed = true;
        Driver.cuStreamSynchronize(_stream);
        foreach (var graph in _graphs)
        {
            if (graph is not null) Driver.cuGraphExecDestroy(graph.Exec);
        }
        Driver.cuMemFree(_cublasWorkspace);
        DisposeTopK();
        _stacked?.Dispose();
        _fp8Work?.Dispose();
        Cublas.cublasDestroy(_cublas);
        Driver.cuModuleUnload(_module);
        FreeRingMemory();
        if (_download != 0) Driver.cuMemFreeHost(_download);
        Driver.cuStreamDestroy(_stream);
        _gapTimer?.Dispose();
        Driver.cuDevicePrimaryCtxRelease(_device);
        t_current = 0;
    }

    /// <summary>Makes this backend's context current on the calling thread (cheap when it already is).</summary>
    internal void Bind()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (t_current == _context) return;
        Driver.Check(Driver.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
        t_current = _context;
    }

    internal void Free(ulong pointer)
    {
        if (_disposed) return;
        Bind();
        Driver.cuMemFree(pointer);
    }

    internal CudaBuffer Dev(DeviceBuffer buffer)
    {
        if (buffer is CudaBuffer c && ReferenceEquals(c.Owner, this)) return c;
        throw new ArgumentException(buffer is CudaBuffer ? "buffer of another CUDA backend (device) passed to this one" : $"buffer of another backend ({buffer.GetType().Name}) passed to the CUDA backend");
    }

    private CudaBuffer Act(DeviceBuffer buffer)
    {
        var c = Dev(buffer);
        if (c.DType != _act) throw new ArgumentException($"the CUDA backend expects {_act} activations here, got a {c.DType} buffer");
        return c;
    }

    /// <summary>A buffer of the activation type or of the float32 residual stream.</summary>
    private CudaBuffer ActOrResidual(DeviceBuffer buffer)
    {
        var c = Dev(buffer);
        if (c.DType != _act && c.DType != ResidualType) throw new ArgumentException($"the CUDA backend expects {_act} or {ResidualType} here, got a {c.DType} buffer");
        return c;
    }

    private CudaBuffer NewBuffer(DType dtype, long length)
    {
        long bytes = Math.Max(length * dtype.Size(), 256);
        Driver.Check(Driver.cuMemAlloc(out ulong pointer, (nuint)bytes), $"cuMemAlloc of {bytes} bytes");
        return new CudaBuffer(this, dtype, length, pointer);
    }

    /// <summary>The weight in the activation type: itself, or a converted copy made once.</summary>
    private CudaBuffer InActivationType(CudaBuffer weight)
    {
        if (weight.DType == _act) return weight;
        if (weight.DType == DType.F8E4M3) throw new InvalidOperationException("an FP8 weight reached a product that reads the activation type");
        if (weight.Converted is { } converted) return converted;
        var copy = NewBuffer(_act, weight.Length);
        Launch(_fConvert, Grid(weight.Length), 1, Threads, 0, weight.Pointer, I((int)weight.DType), copy.Pointer, I((int)_act), (ulong)weight.Length);
        weight.Converted = copy;
        return copy;
    }

    private void EnsureLayout(BatchLayout batch)
    {
        if (ReferenceEquals(batch, _layout) && batch.Version == _layoutVersion) return;
        int rows = batch.Rows;
        _dTokens = Stage(batch.TokenIds.AsSpan(0, rows));
        if (batch.FeedsTokens) FeedTokens(batch, rows);
        _dPositions = Stage(batch.Positions.AsSpan(0, rows));
        _dSlots = Stage(batch.SlotMapping.AsSpan(0, rows));
        _dRowSequence = Stage(batch.RowSequence.AsSpan(0, rows));
        _layout = batch;
        _layoutVersion = batch.Version;
        _lastLogitRows = Math.Max(1, batch.LogitRowCount);
    }

    /// <summary>Block tables trimmed to the blocks this step's positions reach (the full tables can be long).</summary>
    private void EnsureTables(BatchLayout batch, int blockSize)
    {
        if (ReferenceEquals(batch, _tablesLayout) && batch.Version == _tablesVersion && blockSize == _tablesBlockSize) return;
        int stride = 1;
        for (int r = 0; r < batch.Rows; r++) stride = Math.Max(stride, batch.Positions[r] / blockSize + 1);
        if (stride > batch.MaxBlocksPerSequence) throw new ArgumentOutOfRangeException(nameof(batch), $"position needs {stride} blocks; the block tables hold {batch.MaxBlocksPerSequence}");
        // Rounded up to a power of two (at least 16 blocks) so that consecutive decode steps stage the same
        // shape, which keeps their ops identical for graph replay.
        stride = Math.Min(Math.Max(16, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)stride)), batch.MaxBlocksPerSequence);
        int sequences = Math.Max(batch.Sequences, 1);
        var (host, device) = RingAlloc((long)sequences * stride * sizeof(int));
        int* h = (int*)host;
        for (int s = 0; s < sequences; s++)
            batch.BlockTables.AsSpan(s * batch.MaxBlocksPerSequence, stride).CopyTo(new Span<int>(h + (long)s * stride, stride));
        CopyToDevice(device, host, (long)sequences * stride * sizeof(int));
        _dTables = device;
        _tableStride = stride;
        _tablesLayout = batch;
        _tablesVersion = batch.Version;
        _tablesBlockSize = blockSize;
    }

    /// <summary>Waits for the stream; the staging ring is then free, and staged layouts with it.</summary>
    private void Sync()
    {
        CloseStep();
        WaitFor(0);
        FreeRing();
    }

    /// <summary>
    /// Waits for the stream, or for <paramref name="evt"/> on it: blocking in the driver, or, once NCCL collectives run on
    /// the stream, polling (<see cref="WaitInterruptibly"/>).
    /// </summary>
    private void WaitFor(nint evt)
    {
        if (_collectiveTimeout is not null) WaitInterruptibly(evt);
        else if (evt == 0) Driver.Check(Driver.cuStreamSynchronize(_stream), "cuStreamSynchronize");
        else Driver.Check(Driver.cuEventSynchronize(evt), "cuEventSynchronize");
    }

    private void Launch(nint function, uint gridX, uint gridY, uint block, uint sharedBytes, params ReadOnlySpan<ulong> args)
    {
        var op = new StreamOp { Kind = StreamOpKind.Kernel, Function = function, GridX = gridX, GridY = gridY, Block = block, Shared = sharedBytes, Overlaps = _overlap, ArgCount = args.Length };
        args.CopyTo(op.Args);
        Issue(op);
    }

    private void CopyToDevice(ulong device, nint host, long bytes)
    {
        var op = new StreamOp { Kind = StreamOpKind.CopyToDevice, ArgCount = 3 };
        op.Args[0] = device; op.Args[1] = (ulong)host; op.Args[2] = (ulong)bytes;
        Issue(op);
    }

    private void Memset(ulong device, long bytes)
    {
        var op = new StreamOp { Kind = StreamOpKind.Memset, ArgCount = 2 };
        op.Args[0] = device; op.Args[1] = (ulong)bytes;
        Issue(op);
    }

    /// <summary>
    /// Makes the waits for the device interruptible, once NCCL collectives run on this stream: a collective whose peer
    /// is gone never ends, so a wait ends instead when <see cref="Interrupt"/> is called (the group was aborted) or
    /// after <paramref name="timeout"/> without the work finishing, with a <see cref="CommunicatorException"/>.
    /// </summary>
    internal void WatchCollectives(TimeSpan timeout) => _collectiveTimeout = timeout;

    /// <summary>
    /// Ends the waits for this device's work with a <see cref="CommunicatorException"/> giving <paramref name="reason"/>,
    /// now and from now on (the first reason stays), and refuses new work: the group the device's collectives belong
    /// to is broken. Callable from any thread.
    /// </summary>
    public void Interrupt(string reason) => Interlocked.CompareExchange(ref _interrupted, reason, null);

    /// <summary>Why <see cref="Interrupt"/> was called, or null.</summary>
    public string? InterruptReason => Volatile.Read(ref _interrupted);

    /// <summary>Polls the stream (or an event on it) until done, the backend is interrupted, or the collective timeout passes.</summary>
    private void WaitInterruptibly(nint evt)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            int status = evt == 0 ? Driver.cuStreamQuery(_stream) : Driver.cuEventQuery(evt);
            if (status == 0) return;
            if (status != Driver.ErrorNotReady) Driver.Check(status, evt == 0 ? "cuStreamQuery" : "cuEventQuery");
            if (InterruptReason is { } reason) throw new CommunicatorException(reason);
            var waited = System.Diagnostics.Stopwatch.GetElapsedTime(start);
            if (waited > _collectiveTimeout)
            {
                Interrupt($"the device's work did not finish within {_collectiveTimeout!.Value.TotalSeconds:0.###} s: a rank of its NCCL group is lost or stuck");
                throw new CommunicatorException(InterruptReason!);
            }
            // Spin as cuStreamSynchronize does while a step may still end at any moment (a sleep would add up to a
            // millisecond to every step longer than the spin); only a wait far longer than a step gives the core back.
            if (waited < TimeSpan.FromMilliseconds(1)) Thread.SpinWait(20);
            else if (waited < TimeSpan.FromMilliseconds(200)) Thread.Yield();
            else Thread.Sleep(1);
        }
    }

    private string KernelName(nint function)
    {
        foreach (string name in KernelSource.Names.Concat(Fp8KernelSource.Names))
        {
            if (Driver.cuModuleGetFunction(out nint f, _module, name) == 0 && f == function) return name;
        }
        return "?";
    }

    private nint Function(string name)
    {
        Driver.Check(Driver.cuModuleGetFunction(out nint function, _module, name), $"cuModuleGetFunction({name})");
        return function;
    }

    private uint Grid(long n) => (uint)Math.Clamp((n + Threads - 1) / Threads, 1, (long)_multiprocessors * 16);

    private static uint NormThreads(int dim) => dim >= 4096 ? 1024u : dim >= 1024 ? 512u : 256u;

    private static ulong P(DeviceBuffer buffer) => ((CudaBuffer)buffer).Pointer;
    private static ulong I(int value) => (uint)value;
    private static ulong F(float value) => BitConverter.SingleToUInt32Bits(value);

    private static ushort ToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return 0x7FC0;
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    private void CheckRows(int rows, int dim, params ReadOnlySpan<DeviceBuffer> buffers)
    {
        foreach (var b in buffers) CheckRange(Act(b), 0, (long)rows * dim);
    }

    private static void CheckRange(CudaBuffer buffer, long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(length), $"elements [{offset}, {offset + length}) outside a buffer of {buffer.Length}");
    }
}

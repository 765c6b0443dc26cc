using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Compute.Fp8;
using Granary.Cuda.Kernels;
using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>
/// FP8 (E4M3) weights on the CUDA backend: their upload (quantized here per output feature, or as an FP8 checkpoint has
/// them) and the products that read them (<see cref="Fp8KernelSource"/>): half the bytes of bf16 weights every step.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>The FP8 product kernels by their tile of rows: 8, 16, 32, 64.</summary>
    private readonly nint[] _fGemmFp8;
    private readonly nint _fEmbeddingFp8, _fGemvFp8, _fGemvFp8Gated, _fGemvFp8Split;

    /// <summary>The FP8 products' workspace: the tiles' arrival counters (kept 0 between products), then the slices' sums.</summary>
    private CudaBuffer? _fp8Work;

    /// <summary>Kinds of gemm_fp8 epilogue (its mode), and the flag for float32 outputs.</summary>
    private const int Fp8Outputs = 0, Fp8Residual = 1, Fp8Gate = 2, Fp8FloatOut = 4;

    /// <summary>Most slices of the inputs one FP8 product takes: the last block of a tile adds them all.</summary>
    private const int Fp8MaxSplits = 8;

    private static string ModuleCode => KernelSource.Code + Fp8KernelSource.Code;

    /// <summary>FP8 products run on the tensor cores of sm_80 and later.</summary>
    private bool SupportsFp8 => ComputeCapability.Major >= 8;

    public bool SupportsWeights(DType dtype) => dtype is DType.F32 or DType.BF16 or DType.F16 || dtype == DType.F8E4M3 && SupportsFp8;

    /// <remarks>
    /// FP8 data (<see cref="Fp8Weights"/>) is kept as it is; with <see cref="CudaBackendOptions.Quantization"/> FP8 every
    /// other matrix is quantized per output feature first.
    /// </remarks>
    public DeviceBuffer UploadWeight(DType dtype, ReadOnlySpan<byte> data, long rowLength)
    {
        if (dtype == DType.F8E4M3) return UploadFp8(data, rowLength);
        if (_options.Quantization != WeightQuantization.Fp8) return Upload(dtype, data);
        CheckFp8Rows(rowLength);
        return UploadFp8(Fp8Weights.Quantize(HostConversions.ToFloat(dtype, data), rowLength), rowLength);
    }

    private void CheckFp8Rows(long rowLength)
    {
        if (!SupportsFp8)
            throw new NotSupportedException($"FP8 weights need the tensor cores of sm_80 or later; {DeviceName} is sm_{ComputeCapability.Major}{ComputeCapability.Minor}");
        if (rowLength % 16 != 0)
            throw new NotSupportedException($"FP8 weights on the CUDA backend need rows of a multiple of 16 inputs; this matrix (or this rank's slice of it) has rows of {rowLength}");
    }

    private CudaBuffer UploadFp8(ReadOnlySpan<byte> data, long rowLength)
    {
        CheckFp8Rows(rowLength);
        var codes = Fp8Weights.Codes(data, rowLength);
        var scales = (CudaBuffer)Upload(DType.F32, MemoryMarshal.AsBytes(Fp8Weights.Scales(data, rowLength)));
        Bind();
        Barrier();
        Driver.Check(Driver.cuMemAlloc(out ulong pointer, (nuint)Math.Max(codes.Length, 256)), $"cuMemAlloc of {codes.Length} bytes");
        var buffer = new CudaBuffer(this, DType.F8E4M3, codes.Length, pointer) { Scales = scales, RowLength = rowLength };
        fixed (byte* p = codes)
        {
            Driver.Check(Driver.cuMemcpyHtoDAsync(pointer, p, (nuint)codes.Length, _stream), "cuMemcpyHtoDAsync");
            Sync();
        }
        return buffer;
    }

    /// <summary>A view of whole rows of an FP8 matrix, with their scales.</summary>
    private CudaBuffer SliceFp8(CudaBuffer b, long offset, long length)
    {
        if (offset % b.RowLength != 0 || length % b.RowLength != 0)
            throw new ArgumentException($"a view of an FP8 matrix takes whole rows of {b.RowLength}; [{offset}, {offset + length}) does not");
        var scales = new CudaBuffer(this, DType.F32, length / b.RowLength, b.Scales!.Pointer + (ulong)(offset / b.RowLength * sizeof(float)), owns: false);
        return new CudaBuffer(this, DType.F8E4M3, length, b.Pointer + (ulong)offset, owns: false) { Scales = scales, RowLength = b.RowLength };
    }

    private static bool IsFp8(DeviceBuffer weight) => weight.DType == DType.F8E4M3;

    /// <summary>Whether <paramref name="next"/>'s rows and scales follow <paramref name="first"/>'s (views of one stacked upload): one product reads both.</summary>
    private static bool Fp8Follows(CudaBuffer first, CudaBuffer next) =>
        next.Pointer == first.Pointer + (ulong)first.Length && next.Scales!.Pointer == first.Scales!.Pointer + (ulong)(first.Length / first.RowLength * sizeof(float));

    /// <summary>One product for each run of projections that are views of one stacked matrix (q, k, v: up to three), writing each one's outputs.</summary>
    private void Fp8Projections(DeviceBuffer x, ReadOnlySpan<Projection> projections, int rows, int inFeatures, bool floatOut)
    {
        for (int i = 0; i < projections.Length;)
        {
            int j = i + 1;
            while (j < projections.Length && j - i < 3 && Fp8Follows(Dev(projections[j - 1].Weight), Dev(projections[j].Weight))) j++;
            var a = projections[i];
            var b = j - i > 1 ? projections[i + 1] : a;
            var c = j - i > 2 ? projections[i + 2] : b;
            int e1 = a.OutFeatures, e2 = e1 + (j - i > 1 ? b.OutFeatures : 0), n = e2 + (j - i > 2 ? c.OutFeatures : 0);
            var w = Dev(a.Weight);
            GemmFp8(P(x), w, w, rows, inFeatures, n, P(a.Output), P(b.Output), P(c.Output),
                Bias(a.Bias), j - i > 1 ? Bias(b.Bias) : 0, j - i > 2 ? Bias(c.Bias) : 0, e1, e2, Fp8Outputs | (floatOut ? Fp8FloatOut : 0));
            i = j;
        }
    }

    private void Fp8Gated(DeviceBuffer x, CudaBuffer gate, CudaBuffer up, DeviceBuffer gateOut, int rows, int inFeatures, int outFeatures) =>
        GemmFp8(P(x), gate, up, rows, inFeatures, outFeatures, P(gateOut), 0, 0, 0, 0, 0, outFeatures, outFeatures, Fp8Gate);

    private void Fp8AddResidual(DeviceBuffer x, CudaBuffer weight, DeviceBuffer? bias, DeviceBuffer residual, int rows, int inFeatures, int outFeatures) =>
        GemmFp8(P(x), weight, weight, rows, inFeatures, outFeatures, P(residual), 0, 0, Bias(bias), 0, 0, outFeatures, outFeatures, Fp8Residual);

    private void Fp8Embedding(CudaBuffer table, int vocabStart, int vocabRows, int dim, int rows, CudaBuffer output) =>
        Launch(_fEmbeddingFp8, (uint)rows, 1, Threads, 0, table.Pointer, table.Scales!.Pointer, _dTokens, I(vocabStart), I(vocabRows), I(dim), output.Pointer, I((int)output.DType));

    /// <summary>
    /// x [rows, k] times the FP8 matrix [n, k]^T, scaled, into the outputs as <paramref name="packed"/>'s mode says
    /// (gemm_fp8 in <see cref="Fp8KernelSource"/>; gated, wa is the gate and wb the up projection). A block takes 128
    /// weight rows (256 from 33 rows on) over its slice of the inputs; narrow matrices split their inputs, first
    /// across blocks, then across a block's warps, until the grid about fills the GPU once.
    /// </summary>
    private void GemmFp8(ulong x, CudaBuffer wa, CudaBuffer wb, int rows, int k, int n, ulong y0, ulong y1, ulong y2, ulong b0, ulong b1, ulong b2,
        int e1, int e2, int packed)
    {
        int size = rows <= 8 ? 0 : rows <= 16 ? 1 : rows <= 32 ? 2 : 3;
        nint kernel = _fGemmFp8[size];
        int rowTile = 8 << size, weightTiles = size == 3 ? 2 : 1, sums = rowTile / 8 * weightTiles * 4;
        int outputsPerWarp = ((packed & 3) == Fp8Gate ? 8 : 16) * weightTiles;
        int warpTiles = (n + outputsPerWarp - 1) / outputsPerWarp, rowBlocks = (rows + rowTile - 1) / rowTile;
        int chunks = (k + Fp8KernelSource.InputsPerChunk - 1) / Fp8KernelSource.InputsPerChunk;
        // The input groups' sums meet in shared memory: at 64 rows, 256 floats a thread, two groups at most.
        int maxGroups = size == 3 ? 2 : 8;
        int kGroups = 1, columnBlocks = 0, splits = 1, kPerSplit = k;
        uint shared = 0;
        for (int groups = 1; groups <= maxGroups; groups *= 2)
        {
            kGroups = groups;
            columnBlocks = (warpTiles + 8 / groups - 1) / (8 / groups);
            shared = (uint)((groups - 1) * sums * (8 / groups) * 32 * sizeof(float));
            int target = _multiprocessors * Occupancy(kernel, Threads, shared), cells = columnBlocks * rowBlocks;
            splits = cells > Fp8KernelSource.Counters ? 1 : Math.Clamp(target / cells, 1, Math.Min(Fp8MaxSplits, Math.Max(1, chunks / (2 * groups))));
            kPerSplit = (chunks + splits - 1) / splits * Fp8KernelSource.InputsPerChunk;
            splits = (k + kPerSplit - 1) / kPerSplit;
            if (4 * cells * splits >= 3 * target) break;
        }
        ulong work = splits > 1 ? Fp8Work(Fp8KernelSource.Counters + (long)columnBlocks * rowBlocks * splits * sums * (8 / kGroups) * 32) : 0;
        Launch(kernel, (uint)columnBlocks, (uint)(splits * rowBlocks), Threads, shared, x, I(rows), wa.Pointer, wb.Pointer, wa.Scales!.Pointer, wb.Scales!.Pointer,
            I(n), I(k), I(kPerSplit), I(kGroups), work, y0, y1, y2, b0, b1, b2, (uint)e1 | (ulong)(uint)e2 << 32, I(packed));
    }

    /// <summary>Device address of the FP8 products' workspace of at least <paramref name="floats"/> floats, its counters 0.</summary>
    private ulong Fp8Work(long floats)
    {
        if (_fp8Work is null || _fp8Work.Length < floats)
        {
            long length = Math.Max(floats, 2 * (_fp8Work?.Length ?? 0));
            // Step graphs that used the old buffer no longer match the steps to come.
            Barrier();
            _fp8Work?.Dispose();
            _fp8Work = (CudaBuffer)Allocate(DType.F32, length);
        }
        return _fp8Work.Pointer;
    }
}

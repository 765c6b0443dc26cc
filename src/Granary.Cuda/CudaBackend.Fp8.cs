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
    private readonly nint _fGemmFp8M16, _fGemmFp8M32, _fGemmFp8M64, _fFp8Epilogue, _fEmbeddingFp8, _fGemvFp8, _fGemvFp8Gated, _fGemvFp8Split;

    /// <summary>The float32 sums the FP8 products add into; kept zero between products (the epilogue zeroes what it reads).</summary>
    private CudaBuffer? _fp8Sums;

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

    /// <summary>Up to three projections of x at a time: their products into one sum buffer, then one epilogue writes their outputs.</summary>
    private void Fp8Projections(DeviceBuffer x, ReadOnlySpan<Projection> projections, int rows, int inFeatures, bool floatOut)
    {
        for (int start = 0; start < projections.Length; start += 3)
        {
            var group = projections.Slice(start, Math.Min(3, projections.Length - start));
            int total = 0;
            foreach (var p in group) total += p.OutFeatures;
            ulong sums = Fp8Sums((long)rows * total);
            for (int i = 0, column = 0; i < group.Length;)
            {
                // Views of one stacked matrix (q, k, v) take one product.
                var w = Dev(group[i].Weight);
                int n = group[i].OutFeatures, j = i + 1;
                for (; j < group.Length && Fp8Follows(Dev(group[j - 1].Weight), Dev(group[j].Weight)); j++) n += group[j].OutFeatures;
                GemmFp8(P(x), w, rows, inFeatures, n, sums, total, column);
                column += n;
                i = j;
            }
            var a = group[0];
            var b = group.Length > 1 ? group[1] : a;
            var c = group.Length > 2 ? group[2] : b;
            int e1 = a.OutFeatures, e2 = group.Length > 2 ? e1 + b.OutFeatures : total;
            Fp8Epilogue(sums, rows, total, e1, e2, P(a.Output), P(b.Output), P(c.Output),
                Bias(a.Bias), group.Length > 1 ? Bias(b.Bias) : 0, group.Length > 2 ? Bias(c.Bias) : 0, floatOut, mode: 0);
        }
    }

    private void Fp8Gated(DeviceBuffer x, CudaBuffer gate, CudaBuffer up, DeviceBuffer gateOut, int rows, int inFeatures, int outFeatures)
    {
        ulong sums = Fp8Sums(2L * rows * outFeatures);
        if (Fp8Follows(gate, up))
            GemmFp8(P(x), gate, rows, inFeatures, 2 * outFeatures, sums, 2 * outFeatures, 0);
        else
        {
            GemmFp8(P(x), gate, rows, inFeatures, outFeatures, sums, 2 * outFeatures, 0);
            GemmFp8(P(x), up, rows, inFeatures, outFeatures, sums, 2 * outFeatures, outFeatures);
        }
        Fp8Epilogue(sums, rows, 2 * outFeatures, 0, 0, P(gateOut), 0, 0, 0, 0, 0, floatOut: false, mode: 2);
    }

    private void Fp8AddResidual(DeviceBuffer x, CudaBuffer weight, DeviceBuffer? bias, DeviceBuffer residual, int rows, int inFeatures, int outFeatures)
    {
        ulong sums = Fp8Sums((long)rows * outFeatures);
        GemmFp8(P(x), weight, rows, inFeatures, outFeatures, sums, outFeatures, 0);
        Fp8Epilogue(sums, rows, outFeatures, outFeatures, outFeatures, P(residual), 0, 0, Bias(bias), 0, 0, floatOut: true, mode: 1);
    }

    private void Fp8Embedding(CudaBuffer table, int vocabStart, int vocabRows, int dim, int rows, CudaBuffer output) =>
        Launch(_fEmbeddingFp8, (uint)rows, 1, Threads, 0, table.Pointer, table.Scales!.Pointer, _dTokens, I(vocabStart), I(vocabRows), I(dim), output.Pointer, I((int)output.DType));

    /// <summary>
    /// Adds x [rows, k] times the FP8 matrix [n, k]^T (scaled) into columns [column, column + n) of the sums [rows, ldSums].
    /// Rows go 16, 32 or 64 at a time; the inputs are split into slices until the grid holds about two blocks a
    /// multiprocessor (measured on an H200: one a multiprocessor was slower), so that a narrow matrix still has its loads
    /// spread over the whole GPU.
    /// </summary>
    private void GemmFp8(ulong x, CudaBuffer w, int rows, int k, int n, ulong sums, int ldSums, int column)
    {
        int tile = rows <= 16 ? 16 : rows <= 32 ? 32 : 64;
        nint kernel = tile == 16 ? _fGemmFp8M16 : tile == 32 ? _fGemmFp8M32 : _fGemmFp8M64;
        int columnBlocks = (n + Fp8KernelSource.OutputsPerBlock - 1) / Fp8KernelSource.OutputsPerBlock;
        int rowBlocks = (rows + tile - 1) / tile;
        int chunks = (k + Fp8KernelSource.InputsPerIteration - 1) / Fp8KernelSource.InputsPerIteration;
        int splits = Math.Clamp((2 * _multiprocessors + columnBlocks * rowBlocks - 1) / (columnBlocks * rowBlocks), 1, Math.Max(1, chunks / 2));
        int kPerSplit = (chunks + splits - 1) / splits * Fp8KernelSource.InputsPerIteration;
        splits = (k + kPerSplit - 1) / kPerSplit;
        Launch(kernel, (uint)columnBlocks, (uint)(splits * rowBlocks), Threads, 0, x, I(rows), w.Pointer, w.Scales!.Pointer, I(n), I(k),
            I(kPerSplit), I(splits), sums, I(ldSums), I(column));
    }

    private void Fp8Epilogue(ulong sums, int rows, int total, int e1, int e2, ulong y0, ulong y1, ulong y2, ulong b0, ulong b1, ulong b2, bool floatOut, int mode)
    {
        long outputs = (long)rows * (mode == 2 ? total / 2 : total);
        Launch(_fFp8Epilogue, Grid(outputs), 1, Threads, 0, sums, I(rows), I(total), I(e1), I(e2), y0, y1, y2, b0, b1, b2, I(floatOut ? 1 : 0), I(mode));
    }

    /// <summary>Device address of at least <paramref name="elements"/> float32 sums, all zero.</summary>
    private ulong Fp8Sums(long elements)
    {
        if (_fp8Sums is null || _fp8Sums.Length < elements)
        {
            long length = Math.Max(elements, 2 * (_fp8Sums?.Length ?? 0));
            // Step graphs that used the old buffer no longer match the steps to come.
            Barrier();
            _fp8Sums?.Dispose();
            _fp8Sums = (CudaBuffer)Allocate(DType.F32, length);
        }
        return _fp8Sums.Pointer;
    }
}

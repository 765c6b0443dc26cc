using Granary.Compute;
using Granary.Cuda.Native;

namespace Granary.Cuda;

/// <summary>The one-row products: the persistent GEMV kernels (bf16 or FP8 weights), with the norm before and the residual add after fused.</summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>
    /// Whether a step takes the GEMV kernel: one row, bf16 activations, inputs in whole 16-byte chunks, and few
    /// enough of them for the kernel to stage in shared memory (at most 40 KB).
    /// </summary>
    private bool UsesGemv(int rows, int inFeatures) => _options.SkinnyGemv && _act == DType.BF16 && rows == 1
        && inFeatures % 8 == 0 && inFeatures * 2 <= 40 << 10;

    private const int GemvFloatOut = 1 << 16, GemvResidual = 1 << 17, GemvNorm = 1 << 18;

    /// <summary>Resident blocks of <paramref name="threads"/> threads a multiprocessor holds (cached).</summary>
    private int Occupancy(nint kernel, uint threads, uint shared)
    {
        if (_occupancy.TryGetValue((kernel, threads, shared), out int blocks)) return blocks;
        Driver.Check(Driver.cuOccupancyMaxActiveBlocksPerMultiprocessor(out blocks, kernel, (int)threads, shared), "cuOccupancyMaxActiveBlocksPerMultiprocessor");
        blocks = Math.Max(blocks, 1);
        _occupancy[(kernel, threads, shared)] = blocks;
        return blocks;
    }

    /// <summary>
    /// Registers per thread and resident blocks per multiprocessor (256 threads; 4 KB of shared memory, or what a
    /// head size of 64 needs) of the GEMV and attention kernels.
    /// </summary>
    public IEnumerable<string> KernelInfo()
    {
        foreach (string name in new[] { "gemv", "gemv_gated", "gemv_split", "attention" })
        {
            nint f = Function(name);
            Driver.Check(Driver.cuFuncGetAttribute(out int registers, Driver.FuncAttrNumRegs, f), "cuFuncGetAttribute");
            uint shared = name == "attention" ? AttentionShared(64, Threads) : 4096;
            yield return $"{name}: {registers} registers a thread, {Occupancy(f, Threads, shared)} blocks of {Threads} threads a multiprocessor";
        }
    }

    /// <summary>One GEMV kernel for up to three projections of the one row x (normalized first when <paramref name="norm"/> is given).</summary>
    private void GemvProjections(DeviceBuffer x, DeviceBuffer? norm, float eps, ReadOnlySpan<Projection> projections, int inFeatures, bool floatOut)
    {
        var a = projections[0];
        var b = projections.Length > 1 ? projections[1] : a;
        var c = projections.Length > 2 ? projections[2] : b;
        int e1 = a.OutFeatures, e2 = e1 + (projections.Length > 1 ? b.OutFeatures : 0), total = e2 + (projections.Length > 2 ? c.OutFeatures : 0);
        Gemv(false, P(x), norm is null ? 0 : P(norm), eps, GemvWeight(a.Weight), GemvWeight(b.Weight), GemvWeight(c.Weight),
            P(a.Output), P(b.Output), P(c.Output), Bias(a.Bias), projections.Length > 1 ? Bias(b.Bias) : 0, projections.Length > 2 ? Bias(c.Bias) : 0,
            e1, e2, total, inFeatures, (floatOut ? GemvFloatOut : 0) | (norm is null ? 0 : GemvNorm));
    }

    /// <summary>silu(gate) * up straight from the two float accumulators: one kernel, one rounding.</summary>
    private void GemvGated(DeviceBuffer x, DeviceBuffer? norm, float eps, CudaBuffer gate, CudaBuffer up, DeviceBuffer gateOut, int inFeatures, int outFeatures) =>
        Gemv(true, P(x), norm is null ? 0 : P(norm), eps, gate, up, up, P(gateOut), P(gateOut), P(gateOut), 0, 0, 0,
            outFeatures, outFeatures, outFeatures, inFeatures, norm is null ? 0 : GemvNorm);

    /// <summary>A weight as the GEMV reads it: FP8 codes as they are, any other type in the activation type.</summary>
    private CudaBuffer GemvWeight(DeviceBuffer weight) => IsFp8(weight) ? Dev(weight) : InActivationType(Dev(weight));

    /// <summary>Launches a GEMV kernel over the concatenated outputs [0, total) (see its comment in <see cref="KernelSource"/>).</summary>
    private void Gemv(bool gated, ulong x, ulong norm, float eps, CudaBuffer w0, CudaBuffer w1, CudaBuffer w2, ulong y0, ulong y1, ulong y2, ulong b0, ulong b1, ulong b2,
        int e1, int e2, int total, int inFeatures, int flags)
    {
        // Persistent warps, 8 a block: as many blocks as outputs need, at most as many as the chip holds at once.
        // Long rows (down) take two warps an output: twice the loads in flight for their few outputs.
        bool split = !gated && inFeatures >= 4096, fp8 = w0.DType == DType.F8E4M3;
        nint kernel = fp8 ? (gated ? _fGemvFp8Gated : split ? _fGemvFp8Split : _fGemvFp8) : gated ? _fGemvGated : split ? _fGemvSplit : _fGemv;
        int perBlock = split ? 4 : 8;
        uint shared = (uint)(inFeatures * 2);
        uint blocks = (uint)Math.Min((total + perBlock - 1) / perBlock, _multiprocessors * Occupancy(kernel, Threads, shared));
        Launch(kernel, blocks, 1, Threads, shared, x, norm, F(eps), w0.Pointer, w1.Pointer, w2.Pointer, Scales(w0), Scales(w1), Scales(w2),
            y0, y1, y2, b0, b1, b2, I(e1), I(e2), I(total), I(inFeatures), I(flags));
    }

    private static ulong Scales(CudaBuffer weight) => weight.Scales?.Pointer ?? 0;
}

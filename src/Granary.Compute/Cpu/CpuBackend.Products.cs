namespace Granary.Compute.Cpu;

/// <summary>The CPU backend's matrix products: one weight matrix, or the products of one input as one pass over the pool.</summary>
public sealed unsafe partial class CpuBackend
{
    // One job of each kind per product of a group (q, k and v at most), so a group runs as one pass (JobGroup).
    private readonly MatMulJob[] _matMuls = [new(), new(), new()];
    private readonly Q8MatMulJob[] _q8MatMuls = [new(), new(), new()];
    private readonly JobGroup _products = new(3);

    public void MatMul(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer y, int rows, int inFeatures, int outFeatures)
    {
        var (job, chunks) = Product(0, x, weight, bias, y, rows, inFeatures, outFeatures);
        _pool.Run(job, chunks);
    }

    /// <summary>The products of one input as one pass over the pool (more than three: three at a time).</summary>
    public void MatMul(DeviceBuffer x, ReadOnlySpan<Projection> projections, int rows, int inFeatures)
    {
        for (int start = 0; start < projections.Length; start += _matMuls.Length)
        {
            _products.Clear();
            var group = projections.Slice(start, Math.Min(_matMuls.Length, projections.Length - start));
            for (int i = 0; i < group.Length; i++)
            {
                var (job, chunks) = Product(i, x, group[i].Weight, group[i].Bias, group[i].Output, rows, inFeatures, group[i].OutFeatures);
                _products.Add(job, chunks);
            }
            _pool.Run(_products, _products.Chunks);
        }
    }

    public void GatedMatMul(DeviceBuffer x, DeviceBuffer gate, DeviceBuffer up, DeviceBuffer gateOut, DeviceBuffer upOut, int rows, int inFeatures, int outFeatures)
    {
        MatMul(x, [new Projection(gate, null, gateOut, outFeatures), new Projection(up, null, upOut, outFeatures)], rows, inFeatures);
        SiluMul(gateOut, upOut, gateOut, (long)rows * outFeatures);
    }

    /// <summary>
    /// Product <paramref name="slot"/> of a group, set up and checked: Q8_0 weights in int8 (the activations quantized
    /// here), everything else in float32 tiles.
    /// </summary>
    private (CpuJob Job, int Chunks) Product(int slot, DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer y, int rows, int inFeatures, int outFeatures)
    {
        CheckRange(weight, 0, (long)inFeatures * outFeatures, weight.DType);
        CheckRange(x, 0, (long)rows * inFeatures, DType.F32);
        CheckRange(y, 0, (long)rows * outFeatures, DType.F32);
        if (weight.DType == DType.Q8_0)
        {
            if (Cpu(weight).TiledRowLength != inFeatures)
                throw new ArgumentException($"these Q8_0 weights have rows of {Cpu(weight).TiledRowLength} values, not the {inFeatures} inputs of the product", nameof(weight));
            var q8 = _q8MatMuls[slot];
            SetOperands(q8, x, weight, bias, y, rows, inFeatures, outFeatures);
            return (q8, q8.Prepare(_pool));
        }
        var job = _matMuls[slot];
        SetOperands(job, x, weight, bias, y, rows, inFeatures, outFeatures);
        job.WType = weight.DType;
        return (job, job.Plan(_pool.Threads));
    }

    private static void SetOperands(ProductJob job, DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer y, int rows, int inFeatures, int outFeatures)
    {
        job.X = Floats(x);
        job.W = Cpu(weight).Pointer;
        job.Bias = bias is null ? null : Floats(bias);
        job.Y = Floats(y);
        job.Rows = rows;
        job.In = inFeatures;
        job.Out = outFeatures;
    }
}

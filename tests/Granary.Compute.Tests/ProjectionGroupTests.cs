using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Compute.Cpu;

namespace Granary.Compute.Tests;

/// <summary>The products of one input run as one pass over the pool give each product's own result, bit for bit.</summary>
public sealed class ProjectionGroupTests
{
    [Theory]
    [InlineData(WeightQuantization.None, 1)]
    [InlineData(WeightQuantization.None, 5)]
    [InlineData(WeightQuantization.None, 20)]
    [InlineData(WeightQuantization.Q8_0, 1)]
    [InlineData(WeightQuantization.Q8_0, 5)]
    [InlineData(WeightQuantization.Q8_0, 20)]
    public void AGroupOfProjectionsEqualsEachProductAlone(WeightQuantization quantization, int rows)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 2, Quantization = quantization });
        var random = new Random(5);
        DeviceBuffer Floats(int n) => backend.Upload(DType.F32, MemoryMarshal.AsBytes(Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray().AsSpan()));
        const int inFeatures = 96;
        int[] outs = [96, 32, 70, 130];
        using var x = Floats(rows * inFeatures);
        var weights = outs.Select(o => backend.UploadWeight(DType.F32, MemoryMarshal.AsBytes(Enumerable.Range(0, o * inFeatures).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray().AsSpan()), inFeatures)).ToArray();
        var biases = outs.Select((o, i) => i % 2 == 0 ? Floats(o) : null).ToArray();
        var grouped = outs.Select(o => backend.Allocate(DType.F32, rows * o)).ToArray();
        var alone = outs.Select(o => backend.Allocate(DType.F32, rows * o)).ToArray();

        // Four products: a group of three, then one (the backend groups three at a time).
        backend.MatMul(x, [.. outs.Select((o, i) => new Projection(weights[i], biases[i], grouped[i], o))], rows, inFeatures);
        for (int i = 0; i < outs.Length; i++) backend.MatMul(x, weights[i], biases[i], alone[i], rows, inFeatures, outs[i]);

        for (int i = 0; i < outs.Length; i++)
        {
            var a = new float[rows * outs[i]];
            var b = new float[rows * outs[i]];
            backend.CopyToHost(grouped[i], a);
            backend.CopyToHost(alone[i], b);
            Assert.Equal(b, a);
        }
        foreach (var buffer in weights.Concat(grouped).Concat(alone).Concat(biases.OfType<DeviceBuffer>())) buffer.Dispose();
    }

    [Fact]
    public void TheGatedProductIsSiluOfTheGateTimesUp()
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 2 });
        var random = new Random(6);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        DeviceBuffer Up(float[] v) => backend.Upload(DType.F32, MemoryMarshal.AsBytes(v.AsSpan()));
        const int rows = 3, inFeatures = 64, outFeatures = 40;
        float[] xs = Values(rows * inFeatures), gs = Values(outFeatures * inFeatures), us = Values(outFeatures * inFeatures);
        using var x = Up(xs);
        using var gate = Up(gs);
        using var up = Up(us);
        using var gateOut = backend.Allocate(DType.F32, rows * outFeatures);
        using var upOut = backend.Allocate(DType.F32, rows * outFeatures);
        backend.GatedMatMul(x, gate, up, gateOut, upOut, rows, inFeatures, outFeatures);
        var result = new float[rows * outFeatures];
        backend.CopyToHost(gateOut, result);
        for (int r = 0; r < rows; r++)
        for (int o = 0; o < outFeatures; o++)
        {
            double g = 0, u = 0;
            for (int k = 0; k < inFeatures; k++)
            {
                g += xs[r * inFeatures + k] * gs[o * inFeatures + k];
                u += xs[r * inFeatures + k] * us[o * inFeatures + k];
            }
            Assert.Equal(g / (1 + Math.Exp(-g)) * u, result[r * outFeatures + o], 1e-4);
        }
    }
}

using System.Runtime.InteropServices;
using Granary.Compute.Cpu;
using Granary.Compute.Fp8;

namespace Granary.Compute.Tests;

/// <summary>FP8 weights on the CPU backend: held as their dequantized float32 values, the ones the GPU multiplies by.</summary>
public class CpuFp8WeightsTests
{
    private static readonly float[] Weights = Enumerable.Range(0, 6 * 8).Select(i => MathF.Sin(i * 0.7f) * (1 + i % 5)).ToArray();

    private static float[] Read(IBackend backend, DeviceBuffer buffer)
    {
        var values = new float[buffer.Length];
        backend.CopyToHost(buffer, values);
        return values;
    }

    [Theory]
    [InlineData(WeightQuantization.None)]
    [InlineData(WeightQuantization.Fp8)]
    public void Fp8UploadHoldsTheDequantizedValues(WeightQuantization quantization)
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1, Quantization = quantization });
        Assert.True(backend.SupportsWeights(DType.F8E4M3));
        byte[] data = Fp8Weights.Quantize(Weights, 8);
        using var buffer = backend.UploadWeight(DType.F8E4M3, data, 8);
        Assert.Equal(DType.F32, buffer.DType);
        Assert.Equal(Fp8Weights.Dequantize(data, 8), Read(backend, buffer));
    }

    [Fact]
    public void Fp8QuantizationRoundsEveryWeightPerRow()
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1, Quantization = WeightQuantization.Fp8 });
        using var buffer = backend.UploadWeight(DType.F32, MemoryMarshal.AsBytes(Weights.AsSpan()), 8);
        Assert.Equal(DType.F32, buffer.DType);
        Assert.Equal(Fp8Weights.Dequantize(Fp8Weights.Quantize(Weights, 8), 8), Read(backend, buffer));
        Assert.NotEqual(Weights, Read(backend, buffer));
    }

    [Fact]
    public void Fp8UploadUnderQ8_0IsRequantized()
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1, Quantization = WeightQuantization.Q8_0 });
        var weights = Enumerable.Range(0, 2 * 32).Select(i => MathF.Cos(i * 0.3f)).ToArray();
        using var buffer = backend.UploadWeight(DType.F8E4M3, Fp8Weights.Quantize(weights, 32), 32);
        Assert.Equal(DType.Q8_0, buffer.DType);
    }

    [Fact]
    public void PlainUploadOfFp8IsRefused()
    {
        using var backend = new CpuBackend(new CpuBackendOptions { Threads = 1 });
        var e = Assert.Throws<ArgumentException>(() => backend.Upload(DType.F8E4M3, Fp8Weights.Quantize(Weights, 8)));
        Assert.StartsWith("FP8 weights (codes and per-row scales) go through UploadWeight, not Upload", e.Message);
    }
}

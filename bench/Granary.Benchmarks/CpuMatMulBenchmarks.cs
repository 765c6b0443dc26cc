using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Granary.Compute;
using Granary.Compute.Cpu;

namespace Granary.Benchmarks;

/// <summary>
/// The CPU backend's matmul at stories15M's shapes (dim 288, hidden 768, vocab 32000), one row (decode) and 128 rows
/// (prefill), f32 and Q8_0 weights, on 2 threads as the CI machine and llama.cpp's comparison run. Decode is bound by
/// the weight bytes it reads (W bytes / time against the host's bandwidth), prefill by arithmetic (2 x rows x in x out
/// FLOP / time against the cores' peak); bench-local and scripts/bench-llamacpp.sh measure the whole step.
/// </summary>
[MemoryDiagnoser]
public class CpuMatMulBenchmarks
{
    private CpuBackend _backend = null!;
    private DeviceBuffer _x = null!, _w = null!, _y = null!;
    private int _in, _out;

    [Params(1, 128)]
    public int Rows { get; set; }

    /// <summary>in x out: o-projection, gate/up, down, LM head.</summary>
    [Params("288x288", "288x768", "768x288", "288x32000")]
    public string Shape { get; set; } = "288x288";

    [Params(WeightQuantization.None, WeightQuantization.Q8_0)]
    public WeightQuantization Weights { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Parsed here, not in the timed method, whose allocations MemoryDiagnoser reports.
        string[] shape = Shape.Split('x');
        (_in, _out) = (int.Parse(shape[0]), int.Parse(shape[1]));
        _backend = new CpuBackend(new CpuBackendOptions { Threads = 2, Quantization = Weights });
        var random = new Random(7);
        float[] Values(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        _x = _backend.Upload(DType.F32, MemoryMarshal.AsBytes(Values((long)Rows * _in).AsSpan()));
        _w = _backend.UploadWeight(DType.F32, MemoryMarshal.AsBytes(Values((long)_in * _out).AsSpan()), _in);
        _y = _backend.Allocate(DType.F32, (long)Rows * _out);
    }

    [Benchmark]
    public void MatMul() => _backend.MatMul(_x, _w, null, _y, Rows, _in, _out);

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _w.Dispose();
        _y.Dispose();
        _backend.Dispose();
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;

namespace Granary.Benchmarks;

/// <summary>
/// The float32 FMA peak of one core, the limit prefill's share is reported against: twelve independent chains of
/// fused multiply-adds (enough to cover the FMA latency on two pipes), <see cref="Steps"/> steps each, in Vector512
/// (on a processor without AVX-512 .NET runs it as two Vector256 halves, that processor's peak). GFLOP/s =
/// 2 x 16 lanes x 12 x Steps / time; times the cores for the machine's peak.
/// </summary>
public class CpuPeakBenchmarks
{
    /// <summary>Steps per call: 12 x 2^20 FMAs, about 1 ms, long enough that the call's overhead does not count.</summary>
    public const int Steps = 1 << 20;

    [Benchmark]
    public float Fma() => Chains(Vector512.Create(1.0001f), Vector512.Create(0.9999f));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Chains(Vector512<float> a, Vector512<float> b)
    {
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (int i = 0; i < Steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, b, a); c1 = Vector512.FusedMultiplyAdd(c1, b, a); c2 = Vector512.FusedMultiplyAdd(c2, b, a);
            c3 = Vector512.FusedMultiplyAdd(c3, b, a); c4 = Vector512.FusedMultiplyAdd(c4, b, a); c5 = Vector512.FusedMultiplyAdd(c5, b, a);
            c6 = Vector512.FusedMultiplyAdd(c6, b, a); c7 = Vector512.FusedMultiplyAdd(c7, b, a); c8 = Vector512.FusedMultiplyAdd(c8, b, a);
            c9 = Vector512.FusedMultiplyAdd(c9, b, a); c10 = Vector512.FusedMultiplyAdd(c10, b, a); c11 = Vector512.FusedMultiplyAdd(c11, b, a);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Granary.Silo.Cli;

/// <summary>Measures host memory bandwidth with a large parallel copy (bytes read plus bytes written over time): the physical limit decode is compared with.</summary>
internal static unsafe class HostBandwidth
{
    public static double MeasureGBps(int threads, long bytes = 512L << 20)
    {
        byte* source = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        byte* destination = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            new Span<byte>(source, int.MaxValue > bytes ? (int)bytes : int.MaxValue).Fill(1);
            new Span<byte>(destination, int.MaxValue > bytes ? (int)bytes : int.MaxValue).Clear();
            long slice = bytes / threads;
            double best = double.MaxValue;
            for (int round = 0; round < 5; round++)
            {
                var clock = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                    Buffer.MemoryCopy(source + t * slice, destination + t * slice, slice, slice));
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            return 2.0 * slice * threads / best / 1e9;
        }
        finally
        {
            NativeMemory.AlignedFree(source);
            NativeMemory.AlignedFree(destination);
        }
    }
}

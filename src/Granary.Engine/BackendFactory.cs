using Granary.Compute;
using Granary.Compute.Cpu;
using Granary.Cuda;

namespace Granary.Engine;

/// <summary>Creates the backend a device name asks for: "cpu", "cuda" (device 0) or "cuda:N".</summary>
public static class BackendFactory
{
    /// <param name="quantization">How the backend stores weight matrices; Q8_0 runs on the CPU only, FP8 on both.</param>
    public static IBackend Create(string device, int threads, WeightQuantization quantization = WeightQuantization.None)
    {
        if (device == "cpu") return new CpuBackend(new CpuBackendOptions { Threads = threads > 0 ? threads : Environment.ProcessorCount, Quantization = quantization });
        if (quantization == WeightQuantization.Q8_0)
            throw new NotSupportedException($"--quantization {quantization.Name()} runs on the CPU backend only, not on '{device}'");
        if (CudaBackendOptions.Parse(device) is { } cuda)
        {
            cuda.Quantization = quantization;
            return new CudaBackend(cuda);
        }
        throw new ArgumentException($"unknown device '{device}' (known: cpu, cuda, cuda:N)");
    }

    /// <summary>
    /// The device of the rank that is <paramref name="localRank"/>-th on its machine when the ranks were asked for
    /// <paramref name="device"/>: plain "cuda" spreads them over the visible GPUs (cuda:localRank, round robin), so
    /// that each has its own where there are enough and their groups can use NCCL; any other name is kept.
    /// </summary>
    public static string RankDevice(string device, int localRank)
    {
        if (device != "cuda") return device;
        int gpus = CudaBackend.VisibleDevices();
        return gpus > 1 ? $"cuda:{localRank % gpus}" : device;
    }
}

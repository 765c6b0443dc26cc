using Granary.Compute;
using Granary.Compute.Cpu;
using Granary.Cuda;

namespace Granary.Engine;

/// <summary>Creates the backend a device name asks for: "cpu", "cuda" (device 0) or "cuda:N".</summary>
public static class BackendFactory
{
    public static IBackend Create(string device, int threads)
    {
        if (device == "cpu") return new CpuBackend(new CpuBackendOptions { Threads = threads > 0 ? threads : Environment.ProcessorCount });
        if (CudaBackendOptions.Parse(device) is { } cuda) return new CudaBackend(cuda);
        throw new ArgumentException($"unknown device '{device}' (known: cpu, cuda, cuda:N)");
    }
}

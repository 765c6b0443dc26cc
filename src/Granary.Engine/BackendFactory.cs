using Granary.Compute;
using Granary.Compute.Cpu;

namespace Granary.Engine;

/// <summary>Creates the backend a device name asks for ("cpu"; more kinds as backends are added).</summary>
public static class BackendFactory
{
    public static IBackend Create(string device, int threads)
    {
        if (device == "cpu") return new CpuBackend(new CpuBackendOptions { Threads = threads > 0 ? threads : Environment.ProcessorCount });
        throw new ArgumentException($"unknown device '{device}' (known: cpu)");
    }
}

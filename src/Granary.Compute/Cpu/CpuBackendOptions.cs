namespace Granary.Compute.Cpu;

/// <summary>Settings of the CPU backend.</summary>
public sealed class CpuBackendOptions
{
    /// <summary>Threads that run kernels, the calling thread included. Default: every core (<see cref="Environment.ProcessorCount"/>).</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>How <see cref="IBackend.UploadWeight"/> stores weight matrices. Default: as given.</summary>
    public WeightQuantization Quantization { get; set; }
}

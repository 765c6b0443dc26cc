namespace Granary.Compute.Cpu;

/// <summary>
/// A unit of parallel work split into chunks. Backends keep one instance per operation and set its
/// fields before each run, so dispatching work allocates nothing.
/// </summary>
internal abstract class CpuJob
{
    public abstract void Execute(int chunk);
}

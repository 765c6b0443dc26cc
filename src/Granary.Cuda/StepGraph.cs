namespace Granary.Cuda;

/// <summary>A step's ops captured as an instantiated CUDA graph, replayed whenever a step issues exactly these ops.</summary>
internal sealed class StepGraph(StreamOp[] ops, nint exec)
{
    public StreamOp[] Ops { get; } = ops;

    public nint Exec { get; } = exec;

    /// <summary>When it was last built or replayed, in steps; the least recent goes when the cache is full.</summary>
    public long LastUsed { get; set; }
}

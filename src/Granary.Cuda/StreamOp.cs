using System.Runtime.CompilerServices;

namespace Granary.Cuda;

internal enum StreamOpKind { Kernel, Gemm, CopyToDevice, Memset, Nccl, EventRecord }

/// <summary>Up to 20 argument slots of a recorded op (kernel parameters, GEMM shape and pointers, copy addresses, a collective's call).</summary>
[InlineArray(20)]
internal struct StreamOpArgs
{
    private ulong _element;
}

/// <summary>
/// One unit of work the backend put on its stream, recorded so that a decode step seen twice can be
/// replayed as a CUDA graph; two ops are equal when every field and argument is.
/// </summary>
internal struct StreamOp
{
    public StreamOpKind Kind;
    public nint Function;
    public uint GridX, GridY, Block, Shared;
    /// <summary>A kernel launched to overlap the previous one (programmatic dependent launch).</summary>
    public bool Overlaps;
    public int ArgCount;
    public StreamOpArgs Args;

    public readonly bool SameAs(in StreamOp other)
    {
        if (Kind != other.Kind || Function != other.Function || GridX != other.GridX || GridY != other.GridY
            || Block != other.Block || Shared != other.Shared || Overlaps != other.Overlaps || ArgCount != other.ArgCount) return false;
        ReadOnlySpan<ulong> a = Args, b = other.Args;
        return a[..ArgCount].SequenceEqual(b[..ArgCount]);
    }
}

using Granary.Compute;

namespace Granary.Cuda;

/// <summary>
/// Where one <see cref="CudaBackend.BeginTopK"/>'s results come to the host: pinned memory, the event after their copy,
/// and the request they answer. <see cref="InFlight"/> while that copy may still be writing.
/// </summary>
internal sealed class TopKSlot
{
    public nint Host;
    public long Bytes;
    public nint Copied;
    public TopKRequest Request;
    public bool InFlight;
}

namespace Granary.Cuda;

/// <summary>
/// One half of the staging ring: pinned host memory and its device twin, how much of it the step staging there has
/// taken, and the event recorded at the end of the last step that staged there (<see cref="Busy"/> until waited for).
/// </summary>
internal sealed class StagingHalf
{
    public nint Host;
    public ulong Device;
    public long Used;
    public nint Done;
    public bool Busy;
}

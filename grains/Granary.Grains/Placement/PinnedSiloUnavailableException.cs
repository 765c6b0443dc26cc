namespace Granary.Grains.Placement;

/// <summary>A pinned grain was called whose silo is not active: the grain is gone with its silo.</summary>
[GenerateSerializer]
public sealed class PinnedSiloUnavailableException : Exception
{
    public PinnedSiloUnavailableException(string message) : base(message) { }
}

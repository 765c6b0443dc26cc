using Orleans.Runtime;

namespace Granary.Grains.Placement;

/// <summary>
/// Placement of grains that live where their key says (<see cref="PinnedKey"/>: "{local id}#{silo address}"): rank,
/// session and silo grains, put on the silo and device the coordinator chose and never moved. They bypass Orleans'
/// grain directory (the key is the address), so that a silo's death never deactivates pinned grains of other silos
/// whose directory entry lived on it.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class PinnedPlacement : PlacementStrategy
{
    public static PinnedPlacement Instance { get; } = new();

    public override bool IsUsingGrainDirectory => false;
}

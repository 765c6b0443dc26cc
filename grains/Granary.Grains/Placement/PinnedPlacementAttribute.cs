using Orleans.Placement;

namespace Granary.Grains.Placement;

/// <summary>Marks a grain class as placed by <see cref="PinnedPlacement"/>: on the silo its key names.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class PinnedPlacementAttribute() : PlacementAttribute(PinnedPlacement.Instance);

using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Granary.Grains.Placement;

/// <summary>
/// Puts a pinned grain on the silo its key names. A silo that is gone (or not yet known here) is a plain
/// <see cref="PinnedSiloUnavailableException"/>: Orleans retries placement failures of its own types with backoff, and
/// a caller of a grain on a dead silo should learn it at once.
/// </summary>
internal sealed class PinnedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silo = PinnedKey.Silo(target.GrainIdentity.Key.ToString()!);
        foreach (var compatible in context.GetCompatibleSilos(target))
        {
            if (compatible.Equals(silo)) return Task.FromResult(silo);
        }
        throw new PinnedSiloUnavailableException($"grain {target.GrainIdentity} is pinned to silo {silo}, which is not an active silo of the cluster");
    }
}

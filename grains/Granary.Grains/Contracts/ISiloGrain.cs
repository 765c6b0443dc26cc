using Granary.Grains.Placement;

namespace Granary.Grains.Contracts;

/// <summary>
/// One per silo, pinned to it (key <see cref="SiloGrainKey"/>): what the silo offers (devices, roles, gateway) and its
/// load, for the coordinator and status; and the coordinator's word on which replicas the silo runs.
/// </summary>
public interface ISiloGrain : IGrainWithStringKey
{
    Task<SiloInfo> GetInfoAsync();

    /// <summary>
    /// Makes the silo run exactly <paramref name="assignments"/> (every replica with a rank here): it starts loading
    /// the new ones whose rank 0 is here (off the call: loading takes seconds), stops those no longer listed, and
    /// answers the state of each replica whose session lives here.
    /// </summary>
    Task<IReadOnlyList<ReplicaState>> ApplyAsync(IReadOnlyList<ReplicaAssignment> assignments);
}

/// <summary>The key of a silo's <see cref="ISiloGrain"/>.</summary>
public static class SiloGrainKey
{
    public static string For(string silo) => PinnedKey.Make("silo", silo);
}

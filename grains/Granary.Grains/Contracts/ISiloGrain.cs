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

    /// <summary>Answers <paramref name="responseBytes"/> bytes to a step-plan-like call: the far end of <see cref="TimeCallsAsync"/>.</summary>
    Task<byte[]> EchoAsync([Immutable] byte[] plan, int responseBytes);

    /// <summary>
    /// Times <paramref name="calls"/> sequential calls from this silo to <paramref name="target"/>'s silo grain (after a
    /// warm-up), each carrying <paramref name="requestBytes"/> and answered with <paramref name="responseBytes"/>: the
    /// cost of the per-step grain call of a replica spanning silos, without the model's work (<c>granary bench control</c>).
    /// </summary>
    Task<CallTimings> TimeCallsAsync(string target, int calls, int requestBytes, int responseBytes);
}

/// <summary>The key of a silo's <see cref="ISiloGrain"/>.</summary>
public static class SiloGrainKey
{
    public static string For(string silo) => PinnedKey.Make("silo", silo);
}

using Granary.Engine;
using Granary.Grains.Placement;

namespace Granary.Grains.Contracts;

/// <summary>
/// The session of one replica (one generation of it), pinned to the silo of its rank 0 (key <see cref="ReplicaGrainKeys.Session"/>):
/// the scheduler and step loop over the replica's ranks. Gateways stream requests through it.
/// </summary>
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Runs a request and streams its events, or one <see cref="SessionReply.Busy"/> reply when the replica's queue is
    /// full. Cancelling the token (or leaving the enumeration) aborts the request and frees its KV blocks. Throws
    /// <see cref="ReplicaNotServingException"/> when the replica does not serve on that silo (stopped, or placed again).
    /// </summary>
    IAsyncEnumerable<SessionReply> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default);
}

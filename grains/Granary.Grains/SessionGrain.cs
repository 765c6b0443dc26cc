using System.Runtime.CompilerServices;
using Granary.Engine;
using Granary.Grains.Contracts;
using Granary.Grains.Placement;
using Orleans.Concurrency;

namespace Granary.Grains;

/// <summary>
/// <see cref="ISessionGrain"/>: streams gateways' requests through the replica's <see cref="ReplicaSession"/>, which
/// lives in the silo's <see cref="ReplicaHost"/>. Reentrant: many requests stream through one session at once.
/// </summary>
[PinnedPlacement, Reentrant]
internal sealed class SessionGrain(ReplicaHost host) : Grain, ISessionGrain
{
    public async IAsyncEnumerable<SessionReply> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (replicaId, generation) = ReplicaGrainKeys.Parse(this.GetPrimaryKeyString());
        var session = host.FindSession(replicaId, generation)
            ?? throw new ReplicaNotServingException($"replica {replicaId} (generation {generation}) does not serve on this silo");
        await foreach (var reply in session.RunAsync(request, cancellationToken)) yield return reply;
    }
}

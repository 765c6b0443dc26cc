using System.Runtime.CompilerServices;
using Granary.Grains.Contracts;
using Granary.Engine;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;

namespace Granary.Grains;

/// <summary>
/// The step loop of one replica, on the silo of its rank 0: the scheduler (continuous batching, chunked prefill,
/// preemption), the KV block table and the sampler, behind an <see cref="AsyncEngine"/>. Every step it runs the
/// replica's ranks through their executor; requests come from gateways as <see cref="GenerationRequest"/>s and
/// go back as a stream of <see cref="GenerationEvent"/>s. Its <see cref="SessionGrain"/> is what gateways call.
/// </summary>
public sealed partial class ReplicaSession : IDisposable
{
    private readonly LlmEngine _engine;

    /// <param name="engine">The replica's engine, warmed up; the session owns it from here.</param>
    /// <param name="modelName">The deployment's name: the model_name label of the replica's metrics.</param>
    /// <param name="maxWaiting">Requests that may wait for a place in the batch before the replica answers busy.</param>
    public ReplicaSession(string replicaId, long generation, string modelName, LlmEngine engine, int maxWaiting, ILoggerFactory loggers)
    {
        ReplicaId = replicaId;
        Generation = generation;
        _engine = engine;
        Engine = new AsyncEngine(_engine, new AsyncEngineOptions { MaxWaiting = maxWaiting }, loggers.CreateLogger<AsyncEngine>());
        Engine.Metrics.ModelName = modelName;
    }

    public string ReplicaId { get; }
    public long Generation { get; }
    public AsyncEngine Engine { get; }

    public int MaxModelLength => Engine.MaxModelLength;

    /// <summary>
    /// Runs a request here and yields its events, or a single <see cref="SessionReply.Busy"/> reply when the
    /// replica's queue is full. Leaving the enumeration early (the caller went away) aborts the request and frees
    /// its KV blocks. Throws <see cref="ObjectDisposedException"/> once the session stopped.
    /// </summary>
    public async IAsyncEnumerable<SessionReply> RunAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (TrySubmit(request, cancellationToken) is not { } handle)
        {
            yield return new SessionReply { Busy = $"replica {ReplicaId} has a full queue" };
            yield break;
        }
        using (handle)
        {
            await foreach (var e in handle.Events.ReadAllAsync(cancellationToken).ConfigureAwait(false)) yield return new SessionReply { Event = e };
        }
    }

    private GenerationHandle? TrySubmit(GenerationRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return Engine.Submit(request, cancellationToken);
        }
        catch (QueueFullException)
        {
            return null;
        }
    }

    /// <summary>Stops the step loop (running requests end with an error event) and frees the replica's ranks.</summary>
    public void Dispose()
    {
        Engine.Dispose();
        _engine.Dispose();
    }
}

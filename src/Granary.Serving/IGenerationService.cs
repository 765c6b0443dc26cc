using Granary.Engine;
using Granary.ChatTemplates;
using Granary.Tokenizers;

namespace Granary.Serving;

/// <summary>
/// What the OpenAI server runs requests on: a model in this process (<see cref="LocalGenerationService"/>) or,
/// on a cluster's gateway, the replicas of a deployment. The server tokenizes and validates; the service runs.
/// A service that does not know its model yet (a gateway started before the deployment) throws
/// <see cref="ServiceUnavailableException"/> from the model's properties until it does.
/// </summary>
public interface IGenerationService : IDisposable
{
    /// <summary>Model name the API reports when no served name is configured.</summary>
    string ModelName { get; }

    /// <summary>Model folder (also accepted as the request's model name).</summary>
    string ModelDirectory { get; }

    ITokenizer Tokenizer { get; }

    LoadedChatTemplate? ChatTemplate { get; }

    /// <summary>Longest prompt plus output a request may reach.</summary>
    int MaxModelLength { get; }

    /// <summary>False while the service cannot take requests (shutting down, no replica): /ready answers 503.</summary>
    bool IsReady { get; }

    ServingMetrics Metrics { get; }

    /// <summary>One line for the start log: where requests run and how much KV cache they have.</summary>
    string Describe();

    /// <summary>
    /// Starts a request. Throws <see cref="QueueFullException"/> (429) when it cannot be queued now,
    /// <see cref="ServiceUnavailableException"/> (503) when nothing can run it, and <see cref="ArgumentException"/>
    /// (400) for a request the model cannot take. Cancelling the token, or disposing the handle, aborts it.
    /// </summary>
    GenerationHandle Submit(GenerationRequest request, CancellationToken cancellationToken);
}

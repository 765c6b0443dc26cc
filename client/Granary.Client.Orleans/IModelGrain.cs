namespace Granary.Client.Orleans;

/// <summary>
/// A deployment as seen by Orleans clients (key: the deployment name, or "" for the cluster's only one). A stateless
/// worker on the silo the call reaches: it validates, tokenizes and applies the chat template, then runs the request on
/// one of the deployment's replicas, resuming it on another replica when that one fails.
/// </summary>
public interface IModelGrain : IGrainWithStringKey
{
    /// <summary>
    /// Streams the answer's chunks. Throws <see cref="GranaryRequestException"/> for a request the cluster refuses
    /// (unknown model, bad parameters, a prompt too long) and <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> is cancelled (the request is aborted on its replica).
    /// </summary>
    IAsyncEnumerable<GranaryChunk> GenerateAsync(GranaryRequest request, CancellationToken cancellationToken = default);
}

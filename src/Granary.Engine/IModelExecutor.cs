using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// Runs forward steps of one model replica, whatever its layout: a single rank, or a tensor/pipeline
/// parallel group whose rank 0 gathers the logits.
/// </summary>
public interface IModelExecutor : IDisposable
{
    int VocabSize { get; }

    /// <summary>Most rows (tokens) one step may hold.</summary>
    int MaxRows { get; }

    /// <summary>Longest sequence the executor was sized for.</summary>
    int MaxPositions { get; }

    /// <summary>KV cache bytes one token slot takes on the busiest rank.</summary>
    long KvBytesPerToken { get; }

    /// <summary>Allocates the paged KV cache on every rank.</summary>
    void AllocateKvCache(int blocks, int blockSize);

    /// <summary>
    /// Runs one step, or only launches it: an executor may return while the device still runs and wait in
    /// <see cref="TopLogits"/> or <see cref="ReadLogits"/>, which then serve the batch's logit rows. The engine reads
    /// them before it launches the next step, and meanwhile (async scheduling) lays that step out in another
    /// <see cref="BatchLayout"/>: a layout stays unchanged until the step after the next is laid out.
    /// </summary>
    void Execute(BatchLayout batch);

    /// <summary>
    /// <see cref="Execute"/> for the serving loop: an executor that waits on other processes (a replica spanning silos)
    /// completes it when their parts answer, so that no thread waits; the others run the step and complete at once.
    /// The engine awaits it only when it reads the step's logits, after laying out the next step.
    /// </summary>
    ValueTask ExecuteAsync(BatchLayout batch)
    {
        Execute(batch);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Whether <see cref="Execute"/> honours <see cref="BatchLayout.FeedsTokens"/>: a step whose tokens are the last step's
    /// best candidates, read where they were computed, so that it may launch before that step is read (then
    /// <see cref="TopLogits"/> still answers for the last step first). Default false.
    /// </summary>
    bool FeedsTokens => false;

    void ReadLogits(int logitRow, Span<float> destination);

    /// <summary>
    /// The <paramref name="k"/> largest logits of every logit row of the last step, with their ids (k a row,
    /// value descending) and each row's log-sum-exp (<see cref="Granary.Compute.IBackend.TopK"/>): all that
    /// sampling needs when it needs no more, without moving the whole vocabulary to the host.
    /// </summary>
    void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp);
}

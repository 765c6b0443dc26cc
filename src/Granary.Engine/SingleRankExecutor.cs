using Granary.Compute;
using Granary.Models;
using Granary.Models.Llama;

namespace Granary.Engine;

/// <summary>The whole model on one backend.</summary>
public sealed class SingleRankExecutor(LlamaModel model, IBackend backend) : IModelExecutor
{
    private KvCache? _cache;

    public LlamaModel Model => model;
    public IBackend Backend => backend;
    public int VocabSize => model.VocabSize;
    public int MaxRows => model.MaxRows;
    public int MaxPositions => model.MaxPositions;
    public long KvBytesPerToken => model.KvBytesPerToken;

    public void AllocateKvCache(int blocks, int blockSize)
    {
        _cache?.Dispose();
        _cache = model.CreateKvCache(blocks, blockSize);
    }

    /// <remarks>
    /// Also starts the top-k of the step's logits that sampling will read (<see cref="BatchLayout.SampleCandidates"/>),
    /// so that on a GPU the step runs while the host goes on (async scheduling) and <see cref="TopLogits"/> only waits.
    /// </remarks>
    public void Execute(BatchLayout batch)
    {
        model.Forward(batch, _cache ?? throw new InvalidOperationException("allocate the KV cache first"));
        if (batch.SampleCandidates > 0) model.BeginTopLogits(batch.SampleCandidates);
    }

    /// <remarks>The backend feeds the tokens itself (from its last top-k).</remarks>
    public bool FeedsTokens => true;

    public void ReadLogits(int logitRow, Span<float> destination) => model.ReadLogits(logitRow, destination);

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp) => model.TopLogits(k, ids, values, logSumExp);

    public void Dispose()
    {
        _cache?.Dispose();
        model.Dispose();
        backend.Dispose();
    }
}

using Granary.Compute;

namespace Granary.Models.Llama;

/// <summary>Activation buffers of one rank, sized once for the most rows a step may hold and reused every step.</summary>
internal sealed class Workspace : IDisposable
{
    private readonly List<DeviceBuffer> _all = [];

    public Workspace(IBackend backend, LlamaModel model)
    {
        var c = model.Config;
        long rows = model.MaxRows;
        DeviceBuffer Make(long length, DType? dtype = null)
        {
            var buffer = backend.Allocate(dtype ?? backend.ActivationType, Math.Max(length, 1));
            _all.Add(buffer);
            return buffer;
        }
        int vocabRows = c.VocabSize / model.Shard.TpSize;
        Residual = Make(rows * c.HiddenSize, backend.ResidualType);
        Normed = Make(rows * c.HiddenSize);
        Q = Make(rows * model.Heads * model.HeadDim);
        K = Make(rows * model.KvHeads * model.HeadDim);
        V = Make(rows * model.KvHeads * model.HeadDim);
        Context = Make(rows * model.Heads * model.HeadDim);
        AttentionOut = Make(rows * c.HiddenSize);
        Gate = Make(rows * model.Intermediate);
        Up = Make(rows * model.Intermediate);
        MlpOut = Make(rows * c.HiddenSize);
        LastHidden = Make(rows * c.HiddenSize);
        // Only the last pipeline stage computes logits (the largest buffers for a big vocabulary), in float32
        // whatever the activations: sampling and logprobs must not see bf16 rounding.
        bool last = model.Shard.IsLastStage;
        Logits = Make(last ? rows * vocabRows : 1, DType.F32);
        GatheredLogits = last && model.Shard.TpSize > 1 ? Make(rows * vocabRows * model.Shard.TpSize, DType.F32) : null;
        if (c.NumExperts > 0)
        {
            RouterLogits = Make(rows * c.NumExperts);
            ExpertIn = Make(rows * c.HiddenSize);
            ExpertOut = Make(rows * c.HiddenSize);
        }
    }

    public DeviceBuffer Residual { get; }
    public DeviceBuffer Normed { get; }
    public DeviceBuffer Q { get; }
    public DeviceBuffer K { get; }
    public DeviceBuffer V { get; }
    public DeviceBuffer Context { get; }
    public DeviceBuffer AttentionOut { get; }
    public DeviceBuffer Gate { get; }
    public DeviceBuffer Up { get; }
    public DeviceBuffer MlpOut { get; }
    public DeviceBuffer LastHidden { get; }
    public DeviceBuffer Logits { get; }
    public DeviceBuffer? GatheredLogits { get; }
    public DeviceBuffer? RouterLogits { get; }
    public DeviceBuffer? ExpertIn { get; }
    public DeviceBuffer? ExpertOut { get; }

    /// <summary>Bytes of all activation buffers.</summary>
    public long Bytes => _all.Sum(b => b.ByteLength);

    public void Dispose()
    {
        foreach (var buffer in _all) buffer.Dispose();
    }
}

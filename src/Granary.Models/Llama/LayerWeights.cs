using Granary.Compute;

namespace Granary.Models.Llama;

/// <summary>One decoder layer's weights on one rank (its tensor-parallel slices).</summary>
internal sealed class LayerWeights : IDisposable
{
    public required DeviceBuffer InputNorm { get; init; }
    public required DeviceBuffer PostAttentionNorm { get; init; }
    /// <summary>Q, K and V stacked in one buffer, of which they are views (null when they are buffers of their own).</summary>
    public DeviceBuffer? Qkv { get; init; }
    public required DeviceBuffer Q { get; init; }
    public required DeviceBuffer K { get; init; }
    public required DeviceBuffer V { get; init; }
    public DeviceBuffer? QBias { get; init; }
    public DeviceBuffer? KBias { get; init; }
    public DeviceBuffer? VBias { get; init; }
    public required DeviceBuffer O { get; init; }
    public DeviceBuffer? OBias { get; init; }

    /// <summary>Dense MLP (null for mixture-of-experts layers).</summary>
    public ExpertWeights? Mlp { get; init; }

    /// <summary>Router [experts, hidden] of a mixture-of-experts layer.</summary>
    public DeviceBuffer? Router { get; init; }
    public ExpertWeights[] Experts { get; init; } = [];

    public void Dispose()
    {
        foreach (var buffer in new[] { InputNorm, PostAttentionNorm, Q, K, V, Qkv, QBias, KBias, VBias, O, OBias, Router }) buffer?.Dispose();
        Mlp?.Dispose();
        foreach (var expert in Experts) expert.Dispose();
    }
}

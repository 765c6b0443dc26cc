namespace Granary.Tests.Shared;

/// <summary>The scale layouts of FP8 checkpoints that <see cref="Fp8Checkpoint"/> writes.</summary>
public enum Fp8Layout
{
    /// <summary><c>weight_scale</c> of shape [N]: one scale per output channel (vLLM's fp8, compressed-tensors' channel scheme).</summary>
    PerChannel,

    /// <summary><c>weight_scale</c> of shape []: one scale for the whole matrix (vLLM's per-tensor fp8).</summary>
    PerTensor,

    /// <summary><c>weight_scale_inv</c> of shape [ceil(N / b), ceil(K / b)]: one scale per b x b block (Hugging Face's fine-grained FP8).</summary>
    Block,
}

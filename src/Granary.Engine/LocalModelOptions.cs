namespace Granary.Engine;

/// <summary>How <see cref="LocalModel"/> loads a model folder in this process.</summary>
public sealed class LocalModelOptions
{
    /// <summary>Engine limits and KV cache size.</summary>
    public EngineOptions Engine { get; set; } = new();

    /// <summary>Device to compute on: "cpu" (default) or, with the CUDA backend, "cuda:N".</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>CPU kernel threads; 0 means every core. Default 0. Ranks in one process (or on one host) share them.</summary>
    public int Threads { get; set; }

    /// <summary>Told as the weights load (each tensor, per safetensors file; of rank 0 when the model is split); null (the default) for nothing.</summary>
    public IProgress<Granary.Models.Checkpoints.TensorProgress>? LoadProgress { get; set; }

    /// <summary>How weight matrices are stored: as in the checkpoint (default) or quantized at load (the CPU backend's Q8_0).</summary>
    public Granary.Compute.WeightQuantization Quantization { get; set; }

    /// <summary>Tensor/pipeline parallel layout; the default is one rank.</summary>
    public ModelParallelOptions Parallel { get; set; } = new();
}

namespace Granary.Engine;

/// <summary>How one model replica is split across ranks (part of <see cref="LocalModelOptions"/>).</summary>
public sealed class ModelParallelOptions
{
    /// <summary>Tensor-parallel ranks per stage (--tp, TP_SIZE); 0 means "the world size / PP" with a topology, else 1. Default 0.</summary>
    public int TensorParallelSize { get; set; }

    /// <summary>Pipeline stages (--pp, PP_SIZE). Default 1.</summary>
    public int PipelineParallelSize { get; set; } = 1;

    /// <summary>Layers per stage (--pp-partition, VLLM_PP_LAYER_PARTITION), or null for vLLM's default split. Default null.</summary>
    public int[]? PipelinePartition { get; set; }

    /// <summary>
    /// Ranks in other processes (WORLD_SIZE/WORLD_RANK, DISTRIBUTE_CONFIG_FILE, RANK_TABLE_FILE), or null
    /// to run every rank as a thread of this process. Default null.
    /// </summary>
    public ClusterTopology? Cluster { get; set; }

    /// <summary>Longest wait for a peer inside one collective before the step fails. Default 60 s.</summary>
    public TimeSpan CommunicationTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long ranks wait for each other to start and connect. Default 120 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The TP size to use in a world of <paramref name="worldSize"/> ranks (or in-process when null).</summary>
    public int ResolveTensorParallelSize(int? worldSize) =>
        TensorParallelSize > 0 ? TensorParallelSize : worldSize is { } w ? Math.Max(1, w / Math.Max(1, PipelineParallelSize)) : 1;
}

namespace Granary.Cluster.Placement;

/// <summary>
/// The desired state of one model deployment (written by <c>granary deploy</c>, read by the coordinator):
/// which model, how each replica is split, and how many replicas.
/// </summary>
public sealed record DeploymentSpec
{
    /// <summary>Name the gateway serves the model under; also the deployment's key.</summary>
    public required string Name { get; init; }

    /// <summary>Model folder (Hugging Face layout), at the same path on every silo.</summary>
    public required string Model { get; init; }

    /// <summary>Tensor-parallel ranks per pipeline stage. Default 1.</summary>
    public int TensorParallelSize { get; init; } = 1;

    /// <summary>Pipeline stages. Default 1.</summary>
    public int PipelineParallelSize { get; init; } = 1;

    /// <summary>Layers per pipeline stage, or null for the even split.</summary>
    public IReadOnlyList<int>? PipelinePartition { get; init; }

    /// <summary>Replicas wanted; ignored when <see cref="AutoReplicas"/>. Default 1.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Fill every free device with replicas (<c>--replicas auto</c>). Default false.</summary>
    public bool AutoReplicas { get; init; }

    /// <summary>Device kind the ranks run on: "cpu" or "cuda". Default "cpu".</summary>
    public string DeviceKind { get; init; } = "cpu";

    /// <summary>
    /// How the ranks store weight matrices: "none" (as the checkpoint has them) or "q8_0" (CPU only); checked by
    /// <c>granary deploy</c> and by each rank when it loads. Default "none".
    /// </summary>
    public string Quantization { get; init; } = "none";

    /// <summary>KV cache memory per rank in MiB. Default 256.</summary>
    public long KvCacheMiB { get; init; } = 256;

    /// <summary>Longest prompt plus output; 0 means the model's context. Default 0.</summary>
    public int MaxModelLength { get; init; }

    /// <summary>Whether <see cref="MaxModelLength"/> may exceed the model's context (<c>--allow-long-max-model-len</c>). Default false.</summary>
    public bool AllowLongMaxModelLength { get; init; }

    /// <summary>Most sequences in one step of a replica. Default 64.</summary>
    public int MaxSequences { get; init; } = 64;

    /// <summary>Most tokens in one step of a replica (chunked-prefill budget). Default 512.</summary>
    public int MaxBatchedTokens { get; init; } = 512;

    /// <summary>Requests that may wait for a place in a replica's batch before the replica answers busy (the gateway's 429). Default 256.</summary>
    public int MaxWaiting { get; init; } = 256;

    /// <summary>Whether a replica's engine lays out the next decode step while the last one runs (<c>--no-async-scheduling</c> turns it off). Default true.</summary>
    public bool AsyncScheduling { get; init; } = true;

    /// <summary>Whether a one-rank replica feeds a greedy step's tokens to the next on the device (<c>--no-token-feed</c> turns it off). Default true.</summary>
    public bool FeedTokensOnDevice { get; init; } = true;

    /// <summary>
    /// What a replica is loaded with: a replica placed for another layout (model, split, device kind, limits) must be
    /// loaded again when the deployment changes.
    /// </summary>
    public string Layout => $"{Model}|tp{TensorParallelSize}|pp{PipelineParallelSize}|{string.Join(',', PipelinePartition ?? [])}|{DeviceKind}|{Quantization}|kv{KvCacheMiB}|len{MaxModelLength}{(AllowLongMaxModelLength ? "+" : "")}|seqs{MaxSequences}|tokens{MaxBatchedTokens}|wait{MaxWaiting}{(AsyncScheduling ? "" : "|sync")}{(FeedTokensOnDevice ? "" : "|nofeed")}";

    /// <summary>Ranks per replica.</summary>
    public int RanksPerReplica => TensorParallelSize * PipelineParallelSize;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that cannot work.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Contains('/') || Name.Contains(':')) throw new ArgumentException($"deployment name '{Name}' must be a plain name (no '/' or ':')");
        if (string.IsNullOrWhiteSpace(Model)) throw new ArgumentException("--model is required");
        if (TensorParallelSize < 1) throw new ArgumentException($"--tp must be at least 1, got {TensorParallelSize}");
        if (PipelineParallelSize < 1) throw new ArgumentException($"--pp must be at least 1, got {PipelineParallelSize}");
        if (!AutoReplicas && Replicas < 0) throw new ArgumentException($"--replicas must be 0 or more (or auto), got {Replicas}");
        if (DeviceKind is not ("cpu" or "cuda")) throw new ArgumentException($"device kind '{DeviceKind}' is neither cpu nor cuda");
        if (KvCacheMiB < 1) throw new ArgumentException($"--kv-cache-mib must be at least 1, got {KvCacheMiB}");
        if (MaxSequences < 1 || MaxBatchedTokens < 1) throw new ArgumentException("--max-num-seqs and --max-num-batched-tokens must be at least 1");
        if (MaxModelLength < 0) throw new ArgumentException($"--max-model-len must be 0 (the model's context) or more, got {MaxModelLength}");
        if (MaxWaiting < 1) throw new ArgumentException($"--max-waiting must be at least 1, got {MaxWaiting}");
    }
}

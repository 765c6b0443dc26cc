namespace Granary.Engine;

/// <summary>Settings of an engine (bound from configuration section "Engine").</summary>
public sealed class EngineOptions
{
    /// <summary>Token slots per KV block. Default 16.</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>KV blocks to allocate; 0 sizes the cache from <see cref="KvCacheBytes"/>, capped at what <see cref="MaxSequences"/> full-length sequences can use. Default 0.</summary>
    public int KvCacheBlocks { get; set; }

    /// <summary>Memory for the KV cache when <see cref="KvCacheBlocks"/> is 0 (on the busiest rank). Default 1 GiB.</summary>
    public long KvCacheBytes { get; set; } = 1L << 30;

    /// <summary>Longest prompt plus output; 0 means the model's max_position_embeddings. Default 0.</summary>
    public int MaxModelLength { get; set; }

    /// <summary>
    /// Whether <see cref="MaxModelLength"/> may exceed the model's max_position_embeddings (<c>--allow-long-max-model-len</c>,
    /// vLLM's VLLM_ALLOW_LONG_MAX_MODEL_LEN): positions past the trained context are computed, their outputs untested. Default false.
    /// </summary>
    public bool AllowLongMaxModelLength { get; set; }

    /// <summary>Most sequences in one step. Default 64.</summary>
    public int MaxSequences { get; set; } = 64;

    /// <summary>Most tokens in one step (the chunked-prefill budget). Default 512.</summary>
    public int MaxBatchedTokens { get; set; } = 512;

    /// <summary>
    /// Async scheduling (as vLLM v1's): while the device runs step n, the host lays out step n+1 (every running decode
    /// sequence going on with one more token) and, once step n's tokens are sampled and step n+1 launched, does step
    /// n's stop checks, detokenizing and events; a step other than plain decode continuation waits for the one before.
    /// The tokens are the same either way. Where a step runs on the calling thread (the CPU backend) nothing overlaps,
    /// and each token's event comes one step later. Default true; <c>--no-async-scheduling</c> turns it off.
    /// </summary>
    public bool AsyncScheduling { get; set; } = true;

    /// <summary>
    /// With <see cref="AsyncScheduling"/>: when every sequence of a step decodes greedily and the model is one rank, the next
    /// step takes its tokens from the step's top-1 on the device (<see cref="Granary.Compute.BatchLayout.FeedsTokens"/>), so
    /// it is launched before the host reads the step back and the device does not wait for the host between them; a
    /// sequence that stopped meanwhile gets nothing from that next step. The tokens are the same either way. Default true;
    /// <c>--no-token-feed</c> turns it off.
    /// </summary>
    public bool FeedTokensOnDevice { get; set; } = true;

    /// <summary>Seed of the generator used by requests without a seed; null seeds from the clock.</summary>
    public int? Seed { get; set; }
}

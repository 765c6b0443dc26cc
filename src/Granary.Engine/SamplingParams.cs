namespace Granary.Engine;

/// <summary>How one request's tokens are chosen and when it stops (the fields vLLM's SamplingParams has).</summary>
public sealed record SamplingParams
{
    /// <summary>0 picks the most likely token (greedy). Default 1.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep the smallest set of tokens whose probability reaches this. Default 1 (all).</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Keep the k most likely tokens; 0 keeps all. Default 0.</summary>
    public int TopK { get; init; }

    /// <summary>Drop tokens less likely than this fraction of the most likely one. Default 0.</summary>
    public float MinP { get; init; }

    /// <summary>Divides positive logits (multiplies negative ones) of tokens already in the prompt or output. Default 1 (off).</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Seed for this request's random draws; null draws from a shared generator.</summary>
    public int? Seed { get; init; }

    /// <summary>Most tokens to generate. Default 16.</summary>
    public int MaxTokens { get; init; } = 16;

    /// <summary>Token ids that end the answer besides the model's end-of-sequence ids.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Strings that end the answer; the text stops before them.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Keep generating past end-of-sequence tokens (benchmarks, reference comparisons). Default false.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Return the log-probability of each chosen token and this many alternatives; null for none.</summary>
    public int? Logprobs { get; init; }

    public static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0, MaxTokens = maxTokens };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field out of range.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be a finite number >= 0, got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top_p must be in (0, 1], got {TopP}");
        if (TopK < 0) throw new ArgumentException($"top_k must be >= 0, got {TopK}");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentException($"min_p must be in [0, 1], got {MinP}");
        if (!(RepetitionPenalty > 0) || float.IsInfinity(RepetitionPenalty)) throw new ArgumentException($"repetition_penalty must be > 0, got {RepetitionPenalty}");
        if (MaxTokens < 1) throw new ArgumentException($"max_tokens must be >= 1, got {MaxTokens}");
        if (Logprobs is < 0 or > 20) throw new ArgumentException($"logprobs must be between 0 and 20, got {Logprobs}");
        if (Stop.Any(string.IsNullOrEmpty)) throw new ArgumentException("stop strings must not be empty");
    }
}

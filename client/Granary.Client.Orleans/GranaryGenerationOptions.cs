namespace Granary.Client.Orleans;

/// <summary>How to sample, as OpenAI's parameters; null means the server's default.</summary>
[GenerateSerializer, Immutable]
public sealed record GranaryGenerationOptions
{
    /// <summary>Most tokens to generate; null: 16 for a completion, the rest of the context for a chat.</summary>
    [Id(0)] public int? MaxTokens { get; init; }
    /// <summary>0 is greedy. Default 1.</summary>
    [Id(1)] public float? Temperature { get; init; }
    /// <summary>Nucleus sampling mass. Default 1.</summary>
    [Id(2)] public float? TopP { get; init; }
    /// <summary>Sample among the k likeliest tokens; null or 0: all.</summary>
    [Id(3)] public int? TopK { get; init; }
    /// <summary>Seed of the sampler, for answers that repeat.</summary>
    [Id(4)] public int? Seed { get; init; }
    /// <summary>Up to 4 strings that end the answer (not included in it).</summary>
    [Id(5)] public IReadOnlyList<string>? Stop { get; init; }
}

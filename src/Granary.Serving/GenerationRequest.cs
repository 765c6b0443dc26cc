using Granary.Engine;

namespace Granary.Serving;

/// <summary>What the HTTP layer submits to the <see cref="AsyncEngine"/>: one or more tokenized prompts, each run <see cref="N"/> times.</summary>
public sealed class GenerationRequest
{
    /// <summary>Token ids of each prompt.</summary>
    public required IReadOnlyList<int[]> Prompts { get; init; }

    public required SamplingParams Sampling { get; init; }

    /// <summary>Sequences per prompt (OpenAI's <c>n</c>); choice index = prompt index * N + j. Default 1.</summary>
    public int N { get; init; } = 1;

    /// <summary>True: an event whenever a choice has new text; false: one event per choice when it finishes.</summary>
    public bool Stream { get; init; }

    public int Sequences => Prompts.Count * N;
}


namespace Granary.Engine;

/// <summary>
/// What the HTTP layer submits to the <see cref="AsyncEngine"/>: one or more tokenized prompts, each run <see cref="N"/> times.
/// A record, so a gateway resumes a request as <c>request with { Resume = ... }</c>.
/// </summary>
public sealed record GenerationRequest
{
    /// <summary>Token ids of each prompt.</summary>
    public required IReadOnlyList<int[]> Prompts { get; init; }

    public required SamplingParams Sampling { get; init; }

    /// <summary>Sequences per prompt (OpenAI's <c>n</c>); choice index = prompt index * N + j. Default 1.</summary>
    public int N { get; init; } = 1;

    /// <summary>True: an event whenever a choice has new text; false: one event per choice when it finishes.</summary>
    public bool Stream { get; init; }

    /// <summary>
    /// For a request resumed after the replica answering it failed: where some of its choices stood (at most
    /// one entry per choice). A finished choice is not run; any other starts from its generated tokens, and
    /// its events carry only what follows them (text after <see cref="ChoiceResume.SentChars"/>, tokens and
    /// logprobs after <see cref="ChoiceResume.GeneratedIds"/>), while <see cref="GenerationEvent.CompletionTokens"/>
    /// counts the resumed tokens too. Choices without an entry start afresh. Null (the default): none.
    /// </summary>
    public IReadOnlyList<ChoiceResume>? Resume { get; init; }

    public int Sequences => Prompts.Count * N;

    /// <summary>
    /// The resume state of each choice by index (null entries: start afresh), or null when there is none;
    /// throws <see cref="ArgumentException"/> for an entry that names no choice, a second entry for one, or
    /// a bad field.
    /// </summary>
    internal ChoiceResume?[]? ResumeByChoice()
    {
        if (Resume is not { Count: > 0 } resume) return null;
        var byChoice = new ChoiceResume?[Sequences];
        foreach (var r in resume)
        {
            if (r is null) throw new ArgumentException("resume: null entry");
            if ((uint)r.Index >= (uint)byChoice.Length) throw new ArgumentException($"resume: choice {r.Index} does not exist; the request has {byChoice.Length} choices");
            if (byChoice[r.Index] is not null) throw new ArgumentException($"resume: choice {r.Index} appears more than once");
            if (r.GeneratedIds is null) throw new ArgumentException($"resume: choice {r.Index} has no generated ids");
            if (r.SentChars < 0) throw new ArgumentException($"resume: choice {r.Index} has sent_chars {r.SentChars}; it must be >= 0");
            byChoice[r.Index] = r;
        }
        return byChoice;
    }
}

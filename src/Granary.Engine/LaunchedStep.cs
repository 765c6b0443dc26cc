using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// One step from its batch layout to its sampled tokens: the sequences it computes (copied, since the scheduler's
/// list is reused), how many tokens each, which of them sample, and once collected the token (and logprobs) sampled
/// for each. The model runner keeps two and alternates, so that with async scheduling the next step is laid out
/// while this one runs. A continuation step's token ids are those its previous step samples (<see cref="Source"/>).
/// </summary>
internal sealed class LaunchedStep
{
    public LaunchedStep(int maxRows, int maxSequences, int maxBlocksPerSequence)
    {
        Batch = new BatchLayout(maxRows, maxSequences, maxBlocksPerSequence);
        Sequences = new Sequence[maxSequences];
        Tokens = new int[maxSequences];
        Samples = new bool[maxSequences];
        Sampled = new int[maxSequences];
        Logprobs = new GeneratedTokenLogprobs?[maxSequences];
        Source = new int[maxSequences];
    }

    public BatchLayout Batch { get; }

    /// <summary>Sequences in the step.</summary>
    public int Count { get; private set; }

    /// <summary>How many of the largest logits sampling reads (0: none; -1 marks whole rows), as <see cref="BatchLayout.SampleCandidates"/>.</summary>
    public int Candidates { get; set; }

    /// <summary>True for a step laid out before its previous step's tokens were sampled: its rows take those tokens at launch.</summary>
    public bool Continuation { get; private set; }

    public Sequence[] Sequences { get; }

    /// <summary>Tokens the step computes for each sequence.</summary>
    public int[] Tokens { get; }

    /// <summary>Whether the step reaches the sequence's last token, so a token is sampled (decided when laid out).</summary>
    public bool[] Samples { get; }

    /// <summary>The token sampled for each sequence once collected; -1 when none (no sample, or the sequence finished meanwhile).</summary>
    public int[] Sampled { get; }

    public GeneratedTokenLogprobs?[] Logprobs { get; }

    /// <summary>For a continuation, the index in the previous step of the sequence whose sampled token each row computes.</summary>
    public int[] Source { get; }

    public void Clear(bool continuation)
    {
        Array.Clear(Sequences, 0, Count); // no finished sequence stays reachable from here
        Count = 0;
        Continuation = continuation;
    }

    public void Add(Sequence sequence, int tokens, bool samples, int source = -1)
    {
        int s = Count++;
        Sequences[s] = sequence;
        Tokens[s] = tokens;
        Samples[s] = samples;
        Source[s] = source;
        Sampled[s] = -1;
        Logprobs[s] = null;
    }
}

namespace Granary.Engine;

/// <summary>A sequence and how many of its pending tokens this step computes.</summary>
public readonly record struct ScheduledSequence(Sequence Sequence, int Tokens)
{
    /// <summary>True when this step reaches the sequence's last token, so a new token is sampled.</summary>
    public bool Samples => Sequence.ComputedLength + Tokens == Sequence.Length;
}

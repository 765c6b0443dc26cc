namespace Granary.Tokenizers.Normalization;

/// <summary>Applies normalizers in order (HF <c>Sequence</c>).</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<Normalizer> steps) : Normalizer
{
    public override string Normalize(string text)
    {
        foreach (var step in steps) text = step.Normalize(text);
        return text;
    }
}

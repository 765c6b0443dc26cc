namespace Granary.Tokenizers.Normalization;

/// <summary>Trims whitespace on the left and/or right (HF <c>Strip</c> normalizer).</summary>
internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override string Normalize(string text) => (left, right) switch
    {
        (true, true) => text.Trim(),
        (true, false) => text.TrimStart(),
        (false, true) => text.TrimEnd(),
        _ => text,
    };
}

namespace Granary.Tokenizers.Normalization;

/// <summary>Lower-cases text (HF <c>Lowercase</c>).</summary>
internal sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string text) => text.ToLowerInvariant();
}

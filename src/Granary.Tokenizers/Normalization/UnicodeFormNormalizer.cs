using System.Text;

namespace Granary.Tokenizers.Normalization;

/// <summary>Unicode normalization (HF <c>NFC</c>, <c>NFD</c>, <c>NFKC</c>, <c>NFKD</c>).</summary>
internal sealed class UnicodeFormNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string text) => text.IsNormalized(form) ? text : text.Normalize(form);
}

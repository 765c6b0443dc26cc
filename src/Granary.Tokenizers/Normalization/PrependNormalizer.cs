namespace Granary.Tokenizers.Normalization;

/// <summary>Prepends a string to non-empty text (HF <c>Prepend</c>; Llama 2's "▁").</summary>
internal sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

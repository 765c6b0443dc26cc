namespace Granary.Tokenizers.Normalization;

/// <summary>A text normalizer applied to each piece of text between added tokens (HF <c>normalizer</c>).</summary>
internal abstract class Normalizer
{
    public abstract string Normalize(string text);
}

namespace Granary.Tokenizers.PreTokenization;

/// <summary>Splits normalized text into pre-tokens that the model encodes separately (HF <c>pre_tokenizer</c>).</summary>
internal abstract class PreTokenizer
{
    /// <summary>Splits <paramref name="text"/> into <paramref name="output"/>. <paramref name="isFirstSegment"/>
    /// is true for text at the very start of the input (Metaspace prepend_scheme "first").</summary>
    public abstract void Split(string text, bool isFirstSegment, List<string> output);

    /// <summary>True when the model sees these pre-tokens as bytes mapped through the GPT-2 alphabet.</summary>
    public virtual bool IsByteLevel => false;
}

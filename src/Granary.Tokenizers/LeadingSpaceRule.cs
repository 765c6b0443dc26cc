namespace Granary.Tokenizers;

/// <summary>How a tokenizer's decoder treats spaces at the start of the decoded text.</summary>
public enum LeadingSpaceRule
{
    /// <summary>Bytes are emitted as they are (byte-level tokenizers).</summary>
    None,

    /// <summary>One leading space of the whole output is removed (HF <c>Strip</c> decoder with start 1 after
    /// <c>Fuse</c>, as in Llama 2 / Mistral; SentencePiece GGUF vocabularies with a space prefix).</summary>
    StripOneLeadingSpace,

    /// <summary>Every space produced by the first decoded token is removed (HF <c>Metaspace</c> decoder with a
    /// prepend scheme other than "never").</summary>
    DropSpacesOfFirstToken,
}

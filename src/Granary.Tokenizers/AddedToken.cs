namespace Granary.Tokenizers;

/// <summary>A token matched literally in input text before normalization and BPE (HF <c>added_tokens</c>;
/// GGUF control / user-defined tokens).</summary>
/// <param name="Id">Token id.</param>
/// <param name="Content">The literal text.</param>
/// <param name="Special">Special (HF) / control (GGUF) token: matched only when special tokens are parsed, skipped
/// when decoding with skipSpecialTokens.</param>
/// <param name="SingleWord">Matched only when not inside a word.</param>
/// <param name="LStrip">Absorbs whitespace on its left.</param>
/// <param name="RStrip">Absorbs whitespace on its right.</param>
public sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord = false, bool LStrip = false, bool RStrip = false);

namespace Granary.Tokenizers;

/// <summary>A text tokenizer: text to token ids and back. Implementations are thread-safe.</summary>
public interface ITokenizer
{
    /// <summary>Number of token ids (highest id + 1, added tokens included).</summary>
    int VocabSize { get; }

    /// <summary>BOS token id (tokenizer_config.json <c>bos_token</c> / GGUF <c>tokenizer.ggml.bos_token_id</c>), if any.</summary>
    int? BosTokenId { get; }

    /// <summary>Token ids that end generation: the EOS token (and, for GGUF, the EOT/EOM tokens; for a model
    /// directory, also <c>generation_config.json</c>'s <c>eos_token_id</c>).</summary>
    IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>How decoding treats spaces at the start of the output (see <see cref="Tokenizers.LeadingSpaceRule"/>).</summary>
    LeadingSpaceRule LeadingSpaceRule { get; }

    /// <summary>
    /// Encodes text. Added/special tokens that appear literally in the text are matched as single tokens
    /// (like HF tokenizers). <paramref name="addSpecialTokens"/> applies the post-processor (e.g. BOS for a
    /// Llama 2 TemplateProcessing, or <c>add_bos_token</c> in GGUF metadata).
    /// </summary>
    int[] Encode(string text, bool addSpecialTokens = true);

    /// <summary>
    /// Encodes text; with <paramref name="parseSpecial"/> false, special (control) tokens written in the text are
    /// encoded as plain text, while non-special added (user-defined) tokens are still matched
    /// (HF <c>encode_special_tokens</c>; llama.cpp <c>parse_special=false</c>).
    /// </summary>
    int[] Encode(string text, bool addSpecialTokens, bool parseSpecial);

    /// <summary>Decodes ids to text; invalid UTF-8 becomes U+FFFD. Ids out of range throw <see cref="ArgumentOutOfRangeException"/>.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true);

    /// <summary>True for special tokens (HF added tokens marked special; GGUF control/unknown tokens).</summary>
    bool IsSpecial(int id);

    /// <summary>The id of a raw vocabulary piece (or added token content), or null.</summary>
    int? TokenToId(string token);

    /// <summary>The raw vocabulary piece of an id (e.g. "ĠHello", "▁Hello", "&lt;0x0A&gt;"), or null when out of range.</summary>
    string? IdToToken(int id);

    /// <summary>
    /// Appends the raw bytes this token contributes to decoded text (byte-level: the unmapped bytes; metaspace:
    /// ▁ as a space, &lt;0xNN&gt; as the byte), before the <see cref="LeadingSpaceRule"/> is applied. Appends
    /// nothing for a special token when <paramref name="skipSpecialTokens"/> is set. Allocation-free.
    /// </summary>
    void AppendTokenBytes(int id, List<byte> output, bool skipSpecialTokens);

    /// <summary>The bytes of <see cref="AppendTokenBytes"/> as a span into a precomputed table (no copy).</summary>
    ReadOnlySpan<byte> GetTokenBytes(int id);
}

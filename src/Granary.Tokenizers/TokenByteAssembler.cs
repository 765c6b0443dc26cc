namespace Granary.Tokenizers;

/// <summary>
/// Appends decoded token bytes and applies the tokenizer's <see cref="LeadingSpaceRule"/>: the one implementation
/// shared by <see cref="Tokenizer.Decode"/> and <see cref="IncrementalDecoder"/>, so both give the same text.
/// </summary>
internal struct TokenByteAssembler
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private bool _sawToken;
    private bool _sawContent;

    public TokenByteAssembler(ITokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecialTokens;
    }

    public void Append(int id, List<byte> output)
    {
        // Skipped tokens are removed before the HF decoder chain runs, so they do not count as "first".
        // (IsSpecial is false for ids out of range, which AppendTokenBytes then rejects.)
        if (_skipSpecial && _tokenizer.IsSpecial(id)) return;
        int start = output.Count;
        _tokenizer.AppendTokenBytes(id, output, false);
        switch (_tokenizer.LeadingSpaceRule)
        {
            case LeadingSpaceRule.StripOneLeadingSpace when !_sawContent:
                if (output.Count > start)
                {
                    if (output[start] == (byte)' ') output.RemoveAt(start);
                    _sawContent = true;
                }
                break;
            case LeadingSpaceRule.DropSpacesOfFirstToken when !_sawToken:
                for (int i = output.Count - 1; i >= start; i--)
                    if (output[i] == (byte)' ') output.RemoveAt(i);
                break;
        }
        _sawToken = true;
    }
}

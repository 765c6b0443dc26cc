using System.Text;

namespace Granary.Tokenizers;

/// <summary>
/// Decodes one sequence token by token (streaming). Emits only complete UTF-8 characters: bytes of a character
/// split across tokens are held back until it is complete. The concatenation of everything returned by
/// <see cref="Append"/> and <see cref="Flush"/> equals <see cref="ITokenizer.Decode"/> of all the ids.
/// Not thread-safe: use one instance per sequence.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly List<byte> _pending = new(16);
    private TokenByteAssembler _assembler;

    /// <summary>Creates a decoder for one sequence.</summary>
    public IncrementalDecoder(ITokenizer tokenizer, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _assembler = new TokenByteAssembler(tokenizer, skipSpecialTokens);
    }

    /// <summary>Adds a token; returns the text it completes ("" if it ends inside a UTF-8 sequence).</summary>
    public string Append(int tokenId)
    {
        _assembler.Append(tokenId, _pending);
        return Take(final: false);
    }

    /// <summary>Returns whatever remains (an incomplete trailing sequence becomes U+FFFD) and resets the buffer.</summary>
    public string Flush() => Take(final: true);

    private string Take(bool final)
    {
        if (_pending.Count == 0) return "";
        ReadOnlySpan<byte> bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
        int complete = final ? bytes.Length : Utf8Text.CompletePrefixLength(bytes);
        if (complete == 0) return "";
        string s = Encoding.UTF8.GetString(bytes[..complete]);
        _pending.RemoveRange(0, complete);
        return s;
    }
}

using System.Buffers;
using System.Text;

namespace Granary.Tokenizers;

/// <summary>UTF-8 helpers.</summary>
internal static class Utf8Text
{
    /// <summary>
    /// Length of the longest prefix that does not end inside a UTF-8 sequence that more bytes could still complete.
    /// Invalid bytes count as complete (they decode to U+FFFD whatever follows).
    /// </summary>
    public static int CompletePrefixLength(ReadOnlySpan<byte> bytes)
    {
        int pos = 0;
        while (pos < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[pos..], out _, out int consumed);
            if (status == OperationStatus.NeedMoreData) return pos;
            pos += consumed;
        }
        return pos;
    }
}

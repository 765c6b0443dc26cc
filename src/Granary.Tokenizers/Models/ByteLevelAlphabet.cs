namespace Granary.Tokenizers.Models;

/// <summary>GPT-2's reversible byte &lt;-&gt; printable character mapping used by byte-level BPE vocabularies.</summary>
internal static class ByteLevelAlphabet
{
    /// <summary>Character for each byte value.</summary>
    public static readonly char[] ByteToChar = Build();

    /// <summary>Byte for each character (indexed by char; -1 when the char is not in the alphabet).</summary>
    public static readonly short[] CharToByte = BuildInverse();

    private static char[] Build()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    private static short[] BuildInverse()
    {
        var inv = new short[512];
        Array.Fill(inv, (short)-1);
        for (int b = 0; b < 256; b++) inv[ByteToChar[b]] = (short)b;
        return inv;
    }

    /// <summary>Maps UTF-8 bytes to their alphabet string (e.g. " Hello" -> "ĠHello").</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>Maps an alphabet string back to bytes; false when it contains a char outside the alphabet.</summary>
    public static bool TryDecode(string token, List<byte> output)
    {
        int start = output.Count;
        foreach (char c in token)
        {
            if (c >= CharToByte.Length || CharToByte[c] < 0)
            {
                output.RemoveRange(start, output.Count - start);
                return false;
            }
            output.Add((byte)CharToByte[c]);
        }
        return true;
    }
}

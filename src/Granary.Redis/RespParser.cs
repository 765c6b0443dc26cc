using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Granary.Redis;

/// <summary>
/// Parses RESP2 and RESP3 replies from a byte sequence. A frame is first scanned without building anything
/// (so that a frame still arriving costs no allocation per read), then built once it is complete.
/// </summary>
internal static class RespParser
{
    /// <summary>Longest line (simple string, error, number) accepted before the stream is declared malformed.</summary>
    private const int MaxLineLength = 1 << 20;

    /// <summary>Deepest nesting of aggregates accepted (guards the recursion).</summary>
    private const int MaxDepth = 256;

    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    /// <summary>
    /// Reads one complete frame. Returns false, leaving <paramref name="reader"/> wherever it got to, when the
    /// frame is not complete yet; throws <see cref="RedisProtocolException"/> on malformed input. With
    /// <paramref name="build"/> false the frame is only validated and skipped and <paramref name="value"/> is null.
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, bool build, out RedisValue? value) =>
        TryRead(ref reader, build, 0, out value);

    private static bool TryRead(ref SequenceReader<byte> reader, bool build, int depth, out RedisValue? value)
    {
        value = null;
        if (depth > MaxDepth)
            throw new RedisProtocolException($"RESP reply nests aggregates deeper than {MaxDepth} levels");
        if (!reader.TryRead(out byte prefix))
            return false;
        if (!TryReadLine(ref reader, out var line))
            return false;

        switch (prefix)
        {
            case (byte)'+':
                if (build) value = RedisValue.FromBytes(RedisType.SimpleString, line.ToArray());
                return true;
            case (byte)'-':
                if (build) value = RedisValue.FromBytes(RedisType.Error, line.ToArray());
                return true;
            case (byte)':':
            {
                long n = ParseInteger(line, "integer (:)");
                if (build) value = RedisValue.FromInteger(n);
                return true;
            }
            case (byte)'(':
                if (line.Length == 0 || !IsBigNumber(line))
                    throw new RedisProtocolException($"RESP big number (() '{Text(line)}' is not a decimal integer");
                if (build) value = RedisValue.FromBytes(RedisType.BigNumber, line.ToArray());
                return true;
            case (byte)',':
            {
                if (!TryParseDouble(line.IsSingleSegment ? line.FirstSpan : line.ToArray(), out double d))
                    throw new RedisProtocolException($"RESP double (,) '{Text(line)}' is not a number");
                if (build) value = RedisValue.FromDouble(d);
                return true;
            }
            case (byte)'#':
                if (line.Length != 1 || (line.FirstSpan[0] != (byte)'t' && line.FirstSpan[0] != (byte)'f'))
                    throw new RedisProtocolException($"RESP boolean (#) '{Text(line)}' is neither t nor f");
                if (build) value = line.FirstSpan[0] == (byte)'t' ? RedisValue.True : RedisValue.False;
                return true;
            case (byte)'_':
                if (line.Length != 0)
                    throw new RedisProtocolException($"RESP null (_) carries unexpected data '{Text(line)}'");
                if (build) value = RedisValue.Null;
                return true;
            case (byte)'$':
            case (byte)'!':
            case (byte)'=':
                return TryReadBlob(ref reader, prefix, line, build, out value);
            case (byte)'*':
            case (byte)'~':
            case (byte)'>':
            case (byte)'%':
            case (byte)'|':
                return TryReadAggregate(ref reader, prefix, line, build, depth, out value);
            default:
                throw new RedisProtocolException(
                    $"RESP reply starts with unknown type byte 0x{prefix:X2} ('{(char)prefix}')");
        }
    }

    private static bool TryReadBlob(ref SequenceReader<byte> reader, byte prefix, ReadOnlySequence<byte> line, bool build,
        out RedisValue? value)
    {
        value = null;
        string what = prefix switch { (byte)'$' => "bulk string ($)", (byte)'!' => "blob error (!)", _ => "verbatim string (=)" };
        if (line.Length == 1 && line.FirstSpan[0] == (byte)'?')
            throw new RedisProtocolException($"RESP3 streamed {what} is not supported");
        long length = ParseInteger(line, $"{what} length");
        if (length == -1 && prefix == (byte)'$')
        {
            if (build) value = RedisValue.Null;
            return true;
        }
        if (length < 0 || length > int.MaxValue - 2)
            throw new RedisProtocolException($"RESP {what} length {length} is out of range");
        if (reader.Remaining < length + 2)
            return false;
        var data = reader.UnreadSequence.Slice(0, length);
        reader.Advance(length);
        if (!reader.IsNext(Crlf, advancePast: true))
            throw new RedisProtocolException($"RESP {what} of {length} bytes is not followed by CRLF");
        if (!build)
            return true;
        switch (prefix)
        {
            case (byte)'$':
                value = RedisValue.FromBytes(RedisType.BulkString, data.ToArray());
                break;
            case (byte)'!':
                value = RedisValue.FromBytes(RedisType.BulkError, data.ToArray());
                break;
            default:
                // "=15\r\ntxt:Some string": a three-byte format, a colon, then the text.
                if (length < 4 || data.Slice(3, 1).FirstSpan[0] != (byte)':')
                    throw new RedisProtocolException($"RESP verbatim string (=) '{Text(data)}' lacks its 'fmt:' prefix");
                value = RedisValue.FromBytes(RedisType.VerbatimString, data.Slice(4).ToArray(), Text(data.Slice(0, 3)));
                break;
        }
        return true;
    }

    private static bool TryReadAggregate(ref SequenceReader<byte> reader, byte prefix, ReadOnlySequence<byte> line, bool build,
        int depth, out RedisValue? value)
    {
        value = null;
        string what = prefix switch
        {
            (byte)'*' => "array (*)", (byte)'~' => "set (~)", (byte)'>' => "push (>)", (byte)'%' => "map (%)", _ => "attribute (|)",
        };
        if (line.Length == 1 && line.FirstSpan[0] == (byte)'?')
            throw new RedisProtocolException($"RESP3 streamed {what} is not supported");
        long count = ParseInteger(line, $"{what} length");
        if (count == -1 && prefix == (byte)'*')
        {
            if (build) value = RedisValue.Null;
            return true;
        }
        bool pairs = prefix is (byte)'%' or (byte)'|';
        if (count < 0 || count > (pairs ? int.MaxValue / 2 : int.MaxValue))
            throw new RedisProtocolException($"RESP {what} length {count} is out of range");
        int elements = (int)(pairs ? count * 2 : count);
        // Each element takes at least 3 bytes, so a count beyond what is buffered cannot be complete yet;
        // checking this first also keeps a corrupt count from allocating a huge array.
        if (reader.Remaining < (long)elements * 3)
            return false;
        RedisValue[]? items = build ? (elements == 0 ? [] : new RedisValue[elements]) : null;
        for (int i = 0; i < elements; i++)
        {
            if (!TryRead(ref reader, build, depth + 1, out var item))
                return false;
            if (items is not null) items[i] = item!;
        }
        if (prefix == (byte)'|')
        {
            // Attributes describe the reply that follows them; clients may ignore them, we keep them on it.
            if (!TryRead(ref reader, build, depth + 1, out var actual))
                return false;
            if (build) value = actual!.WithAttributes(RedisValue.FromItems(RedisType.Map, items!));
            return true;
        }
        if (build)
        {
            var type = prefix switch
            {
                (byte)'*' => RedisType.Array, (byte)'~' => RedisType.Set, (byte)'>' => RedisType.Push, _ => RedisType.Map,
            };
            value = RedisValue.FromItems(type, items!);
        }
        return true;
    }

    private static bool TryReadLine(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> line)
    {
        if (reader.TryReadTo(out line, Crlf, advancePastDelimiter: true))
        {
            if (line.Length > MaxLineLength)
                throw new RedisProtocolException($"RESP line of {line.Length} bytes exceeds {MaxLineLength}");
            return true;
        }
        if (reader.Remaining > MaxLineLength)
            throw new RedisProtocolException($"RESP line has no CRLF within {MaxLineLength} bytes");
        return false;
    }

    private static long ParseInteger(ReadOnlySequence<byte> line, string what)
    {
        scoped Span<byte> tmp = stackalloc byte[24];
        scoped ReadOnlySpan<byte> span;
        if (line.IsSingleSegment)
            span = line.FirstSpan;
        else if (line.Length <= tmp.Length)
        {
            line.CopyTo(tmp);
            span = tmp[..(int)line.Length];
        }
        else
            throw new RedisProtocolException($"RESP {what} '{Text(line)}' is not an integer");
        if (!Utf8Parser.TryParse(span, out long value, out int consumed) || consumed != span.Length || span.Length == 0)
            throw new RedisProtocolException($"RESP {what} '{Text(line)}' is not an integer");
        return value;
    }

    private static bool IsBigNumber(ReadOnlySequence<byte> line)
    {
        var bytes = line.ToArray();
        int start = bytes[0] is (byte)'-' or (byte)'+' ? 1 : 0;
        if (start == bytes.Length) return false;
        for (int i = start; i < bytes.Length; i++)
            if (bytes[i] is < (byte)'0' or > (byte)'9')
                return false;
        return true;
    }

    /// <summary>Parses a RESP3 double or a score string: decimal/exponent forms plus inf, -inf, +inf and nan.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> text, out double value)
    {
        if (text.SequenceEqual("inf"u8) || text.SequenceEqual("+inf"u8)) { value = double.PositiveInfinity; return true; }
        if (text.SequenceEqual("-inf"u8)) { value = double.NegativeInfinity; return true; }
        if (text.SequenceEqual("nan"u8) || text.SequenceEqual("-nan"u8)) { value = double.NaN; return true; }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    private static string Text(ReadOnlySequence<byte> bytes) =>
        Encoding.UTF8.GetString(bytes.Length > 64 ? bytes.Slice(0, 64) : bytes) + (bytes.Length > 64 ? "..." : "");
}

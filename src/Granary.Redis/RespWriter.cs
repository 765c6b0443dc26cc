using System.Buffers;
using System.Buffers.Text;
using System.Globalization;

namespace Granary.Redis;

/// <summary>Serializes commands as RESP arrays of bulk strings (the only form a client sends).</summary>
internal static class RespWriter
{
    /// <summary>Writes <c>*N\r\n</c> followed by each argument as a bulk string.</summary>
    public static void WriteCommand(IBufferWriter<byte> writer, ReadOnlySpan<RedisArg> args)
    {
        WriteLength(writer, (byte)'*', args.Length);
        foreach (ref readonly var arg in args)
            arg.WriteTo(writer);
    }

    /// <summary>Writes a prefix byte, a decimal length and CRLF.</summary>
    public static void WriteLength(IBufferWriter<byte> writer, byte prefix, long length)
    {
        var span = writer.GetSpan(24);
        span[0] = prefix;
        Utf8Formatter.TryFormat(length, span[1..], out int n);
        span[1 + n] = (byte)'\r';
        span[2 + n] = (byte)'\n';
        writer.Advance(n + 3);
    }

    public static void WriteCrlf(IBufferWriter<byte> writer)
    {
        var span = writer.GetSpan(2);
        span[0] = (byte)'\r';
        span[1] = (byte)'\n';
        writer.Advance(2);
    }

    /// <summary>The text Redis reads and writes for a double: shortest round-trip, inf/-inf/nan.</summary>
    public static string FormatDouble(double value) =>
        double.IsPositiveInfinity(value) ? "inf"
        : double.IsNegativeInfinity(value) ? "-inf"
        : double.IsNaN(value) ? "nan"
        : value.ToString("R", CultureInfo.InvariantCulture);
}

using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Granary.Redis;

/// <summary>
/// One argument of a command, sent as a RESP bulk string: text (UTF-8), raw bytes (binary-safe),
/// an integer or a double. Converts implicitly from each, so typed calls take plain values.
/// </summary>
public readonly struct RedisArg
{
    private enum Kind : byte { Bytes, Text, Integer, Double }

    private readonly Kind _kind;
    private readonly string? _text;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly long _integer;
    private readonly double _double;

    private RedisArg(Kind kind, string? text, ReadOnlyMemory<byte> bytes, long integer, double dbl)
    {
        _kind = kind;
        _text = text;
        _bytes = bytes;
        _integer = integer;
        _double = dbl;
    }

    /// <summary>Text, sent as UTF-8.</summary>
    public static implicit operator RedisArg(string value) =>
        new(Kind.Text, value ?? throw new ArgumentNullException(nameof(value), "a Redis argument cannot be null"), default, 0, 0);

    /// <summary>Raw bytes, sent as they are.</summary>
    public static implicit operator RedisArg(byte[] value) =>
        new(Kind.Bytes, null, value ?? throw new ArgumentNullException(nameof(value), "a Redis argument cannot be null"), 0, 0);

    /// <summary>Raw bytes, sent as they are.</summary>
    public static implicit operator RedisArg(ReadOnlyMemory<byte> value) => new(Kind.Bytes, null, value, 0, 0);

    /// <summary>Raw bytes, sent as they are.</summary>
    public static implicit operator RedisArg(Memory<byte> value) => new(Kind.Bytes, null, value, 0, 0);

    /// <summary>An integer, sent as its decimal text.</summary>
    public static implicit operator RedisArg(long value) => new(Kind.Integer, null, default, value, 0);

    /// <summary>A double, sent as its shortest round-trip text (<c>inf</c>/<c>-inf</c> for infinities).</summary>
    public static implicit operator RedisArg(double value) => new(Kind.Double, null, default, 0, value);

    /// <summary>
    /// Converts an argument of <see cref="RedisClient.ExecuteAsync(object[])"/>: string, byte[],
    /// ReadOnlyMemory&lt;byte&gt;, Memory&lt;byte&gt;, integers, float/double, RedisValue or RedisArg.
    /// </summary>
    public static RedisArg FromObject(object? value, int index) => value switch
    {
        RedisArg a => a,
        string s => s,
        byte[] b => b,
        ReadOnlyMemory<byte> m => m,
        Memory<byte> m => (ReadOnlyMemory<byte>)m,
        int i => (long)i,
        long l => l,
        uint u => (long)u,
        short s => (long)s,
        ushort s => (long)s,
        byte b => (long)b,
        double d => d,
        float f => (double)f,
        RedisValue { IsNull: false, IsAggregate: false } v => v.AsBytes()!,
        null => throw new ArgumentNullException($"args[{index}]", $"argument {index} of the command is null"),
        _ => throw new ArgumentException(
            $"argument {index} of the command has type {value.GetType().Name}; use string, byte[], ReadOnlyMemory<byte>, an integer or a double",
            $"args[{index}]"),
    };

    /// <summary>Converts every argument with <see cref="FromObject"/>.</summary>
    internal static RedisArg[] FromObjects(object[] args)
    {
        var converted = new RedisArg[args.Length];
        for (int i = 0; i < args.Length; i++)
            converted[i] = FromObject(args[i], i);
        return converted;
    }

    /// <summary>The argument as text (for logs and error messages; binary values are decoded as UTF-8).</summary>
    public override string ToString() => _kind switch
    {
        Kind.Text => _text!,
        Kind.Bytes => Encoding.UTF8.GetString(_bytes.Span),
        Kind.Integer => _integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => RespWriter.FormatDouble(_double),
    };

    /// <summary>Writes the argument as a RESP bulk string (<c>$len\r\n...\r\n</c>).</summary>
    internal void WriteTo(IBufferWriter<byte> writer)
    {
        switch (_kind)
        {
            case Kind.Bytes:
                RespWriter.WriteLength(writer, (byte)'$', _bytes.Length);
                writer.Write(_bytes.Span);
                break;
            case Kind.Text:
                int count = Encoding.UTF8.GetByteCount(_text!);
                RespWriter.WriteLength(writer, (byte)'$', count);
                if (count <= 4096)
                {
                    var span = writer.GetSpan(count);
                    Encoding.UTF8.GetBytes(_text, span);
                    writer.Advance(count);
                }
                else
                {
                    Encoding.UTF8.GetBytes(_text.AsSpan(), writer);
                }
                break;
            case Kind.Integer:
            {
                Span<byte> tmp = stackalloc byte[24];
                Utf8Formatter.TryFormat(_integer, tmp, out int n);
                RespWriter.WriteLength(writer, (byte)'$', n);
                writer.Write(tmp[..n]);
                break;
            }
            default:
            {
                var text = RespWriter.FormatDouble(_double);
                RespWriter.WriteLength(writer, (byte)'$', text.Length);
                var span = writer.GetSpan(text.Length);
                Encoding.ASCII.GetBytes(text, span);
                writer.Advance(text.Length);
                break;
            }
        }
        RespWriter.WriteCrlf(writer);
    }
}

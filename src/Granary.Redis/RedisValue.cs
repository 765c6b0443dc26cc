using System.Globalization;
using System.Text;

namespace Granary.Redis;

/// <summary>
/// One reply from the server: a scalar (string, integer, double, boolean, null) or an aggregate
/// (array, map, set, push) whose elements are again <see cref="RedisValue"/>s.
/// </summary>
public sealed class RedisValue
{
    /// <summary>The null reply (RESP2 <c>$-1</c> / <c>*-1</c>, RESP3 <c>_</c>).</summary>
    public static readonly RedisValue Null = new(RedisType.Null, null, 0, 0, null);

    internal static readonly RedisValue True = new(RedisType.Boolean, null, 1, 0, null);
    internal static readonly RedisValue False = new(RedisType.Boolean, null, 0, 0, null);
    private static readonly RedisValue[] NoItems = [];

    private readonly byte[]? _bytes;
    private readonly long _integer;
    private readonly double _double;
    private readonly RedisValue[]? _items;

    private RedisValue(RedisType type, byte[]? bytes, long integer, double dbl, RedisValue[]? items, string? format = null)
    {
        Type = type;
        _bytes = bytes;
        _integer = integer;
        _double = dbl;
        _items = items;
        Format = format;
    }

    internal static RedisValue FromBytes(RedisType type, byte[] bytes, string? format = null) => new(type, bytes, 0, 0, null, format);
    internal static RedisValue FromInteger(long value) => new(RedisType.Integer, null, value, 0, null);
    internal static RedisValue FromDouble(double value) => new(RedisType.Double, null, 0, value, null);
    internal static RedisValue FromItems(RedisType type, RedisValue[] items) => new(type, null, 0, 0, items);

    internal RedisValue WithAttributes(RedisValue attributes) =>
        new(Type, _bytes, _integer, _double, _items, Format) { Attributes = attributes };

    /// <summary>The RESP type of this reply.</summary>
    public RedisType Type { get; }

    /// <summary>The format of a RESP3 verbatim string (e.g. <c>txt</c>, <c>mkd</c>); null otherwise.</summary>
    public string? Format { get; }

    /// <summary>RESP3 attributes (<c>|</c>) the server sent before this reply, as a map value; null when none.</summary>
    public RedisValue? Attributes { get; private init; }

    /// <summary>True for the null reply.</summary>
    public bool IsNull => Type == RedisType.Null;

    /// <summary>True for aggregates: array, map, set and push.</summary>
    public bool IsAggregate => _items is not null;

    /// <summary>True for an error nested in an aggregate (e.g. inside an EXEC reply).</summary>
    public bool IsError => Type is RedisType.Error or RedisType.BulkError;

    /// <summary>Elements of an aggregate (a map is flattened: key, value, key, value...); empty for scalars.</summary>
    public IReadOnlyList<RedisValue> Items => _items ?? NoItems;

    /// <summary>The number of elements of an aggregate (a map counts keys and values); 0 for scalars.</summary>
    public int Count => _items?.Length ?? 0;

    /// <summary>Element <paramref name="index"/> of an aggregate.</summary>
    public RedisValue this[int index] => _items is null
        ? throw new InvalidOperationException($"a {Type} reply has no elements")
        : _items[index];

    /// <summary>The raw bytes of a string-like reply (also the decimal text of an integer or double); null for the null reply.</summary>
    public byte[]? AsBytes() => Type switch
    {
        RedisType.Null => null,
        RedisType.Integer or RedisType.Double or RedisType.Boolean => Encoding.UTF8.GetBytes(ToString()),
        _ when _bytes is not null => _bytes,
        _ => throw new InvalidOperationException($"a {Type} reply cannot be read as bytes"),
    };

    /// <summary>The reply as a UTF-8 string; null for the null reply.</summary>
    public string? AsString() => IsNull ? null : ToString();

    /// <summary>The reply as a 64-bit integer (integers, booleans, and strings holding a decimal integer).</summary>
    public long AsInt64()
    {
        switch (Type)
        {
            case RedisType.Integer:
            case RedisType.Boolean:
                return _integer;
            case RedisType.Double when _double == Math.Floor(_double) && Math.Abs(_double) < 9.2e18:
                return (long)_double;
        }
        if (_bytes is not null && long.TryParse(_bytes, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
            return v;
        throw new FormatException($"a {Type} reply '{this}' is not an integer");
    }

    /// <summary>The reply as a double (RESP3 doubles, integers, and strings holding a number, including inf/-inf/nan).</summary>
    public double AsDouble()
    {
        switch (Type)
        {
            case RedisType.Double:
                return _double;
            case RedisType.Integer:
                return _integer;
        }
        if (_bytes is not null && RespParser.TryParseDouble(_bytes, out double d))
            return d;
        throw new FormatException($"a {Type} reply '{this}' is not a number");
    }

    /// <summary>The reply as a boolean: RESP3 booleans, integers (non-zero is true) and the simple string OK.</summary>
    public bool AsBoolean() => Type switch
    {
        RedisType.Boolean or RedisType.Integer => _integer != 0,
        RedisType.SimpleString => _bytes is [(byte)'O', (byte)'K'],
        RedisType.Null => false,
        _ => throw new FormatException($"a {Type} reply '{this}' is not a boolean"),
    };

    /// <summary>
    /// Key/value pairs of a RESP3 map, or of a RESP2 array that holds key, value, key, value (HGETALL,
    /// CONFIG GET, HELLO under RESP2...).
    /// </summary>
    public IEnumerable<KeyValuePair<RedisValue, RedisValue>> AsPairs()
    {
        if (IsNull)
            yield break;
        if (_items is null || _items.Length % 2 != 0)
            throw new FormatException($"a {Type} reply with {Count} elements is not a list of key/value pairs");
        for (int i = 0; i < _items.Length; i += 2)
            yield return new(_items[i], _items[i + 1]);
    }

    /// <summary>The pairs of <see cref="AsPairs"/> as a dictionary keyed by the UTF-8 text of each key.</summary>
    public Dictionary<string, RedisValue> AsDictionary()
    {
        var result = new Dictionary<string, RedisValue>(StringComparer.Ordinal);
        foreach (var (k, v) in AsPairs())
            result[k.ToString()] = v;
        return result;
    }

    /// <summary>The text of a scalar (UTF-8 decoded); aggregates are shown in a readable nested form.</summary>
    public override string ToString() => Type switch
    {
        RedisType.Null => "(nil)",
        RedisType.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        RedisType.Boolean => _integer != 0 ? "true" : "false",
        RedisType.Double => RespWriter.FormatDouble(_double),
        _ when _bytes is not null => Encoding.UTF8.GetString(_bytes),
        _ => $"{Type}[{string.Join(", ", Items)}]",
    };
}

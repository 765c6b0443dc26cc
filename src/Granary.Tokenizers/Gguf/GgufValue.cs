using System.Globalization;

namespace Granary.Tokenizers.Gguf;

/// <summary>
/// One GGUF metadata value. Scalars are boxed CLR values (byte, sbyte, ushort, short, uint, int, float, bool,
/// string, ulong, long, double). Arrays of scalars are stored as typed CLR arrays (e.g. <c>string[]</c>,
/// <c>int[]</c>, <c>float[]</c>); arrays of arrays as <c>GgufValue[]</c>.
/// </summary>
public sealed class GgufValue
{
    /// <summary>Creates a value.</summary>
    public GgufValue(GgufValueType type, object value, GgufValueType elementType = GgufValueType.UInt8)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    /// <summary>The value's type.</summary>
    public GgufValueType Type { get; }

    /// <summary>For arrays, the element type; otherwise meaningless.</summary>
    public GgufValueType ElementType { get; }

    /// <summary>The CLR value (see the class remarks for the mapping).</summary>
    public object Value { get; }

    /// <summary>Number of elements of an array value (0 for scalars).</summary>
    public int Count => Value is Array a ? a.Length : 0;

    /// <summary>The value as a string; throws <see cref="InvalidCastException"/> if it is not one.</summary>
    public string AsString() => Value as string ?? throw new InvalidCastException($"GGUF value of type {Type} is not a string");

    /// <summary>An integer scalar of any width (or bool) as a long.</summary>
    public long AsInt64() => Value switch
    {
        byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v,
        ulong v => checked((long)v), long v => v, bool b => b ? 1 : 0,
        _ => throw new InvalidCastException($"GGUF value of type {Type} is not an integer"),
    };

    /// <summary>A numeric scalar as a double.</summary>
    public double AsDouble() => Value switch
    {
        float f => f, double d => d,
        _ => AsInt64(),
    };

    /// <summary>A bool scalar (integers are accepted: non-zero is true).</summary>
    public bool AsBool() => Value is bool b ? b : AsInt64() != 0;

    /// <summary>The typed array (e.g. <c>AsArray&lt;string&gt;()</c>); throws if the element type differs.</summary>
    public T[] AsArray<T>() => Value as T[] ?? throw new InvalidCastException(
        $"GGUF value of type {Type}[{ElementType}] is not an array of {typeof(T).Name}");

    /// <inheritdoc />
    public override string ToString() => Value switch
    {
        Array a => $"{ElementType}[{a.Length}]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Value.ToString() ?? "",
    };
}

namespace Granary.Redis;

/// <summary>The RESP2/RESP3 type of a reply.</summary>
public enum RedisType
{
    /// <summary>RESP2 null bulk/array (<c>$-1</c>, <c>*-1</c>) or RESP3 null (<c>_</c>).</summary>
    Null,
    /// <summary><c>+</c> simple string.</summary>
    SimpleString,
    /// <summary><c>-</c> simple error (only inside aggregates; a top-level error is thrown).</summary>
    Error,
    /// <summary><c>:</c> 64-bit integer.</summary>
    Integer,
    /// <summary><c>$</c> binary-safe bulk (blob) string.</summary>
    BulkString,
    /// <summary><c>*</c> array.</summary>
    Array,
    /// <summary>RESP3 <c>#</c> boolean.</summary>
    Boolean,
    /// <summary>RESP3 <c>,</c> double.</summary>
    Double,
    /// <summary>RESP3 <c>(</c> big number (kept as its decimal text).</summary>
    BigNumber,
    /// <summary>RESP3 <c>!</c> blob error (only inside aggregates; a top-level error is thrown).</summary>
    BulkError,
    /// <summary>RESP3 <c>=</c> verbatim string (the format, e.g. <c>txt</c>, is in <see cref="RedisValue.Format"/>).</summary>
    VerbatimString,
    /// <summary>RESP3 <c>%</c> map; <see cref="RedisValue.Items"/> holds key, value, key, value...</summary>
    Map,
    /// <summary>RESP3 <c>~</c> set.</summary>
    Set,
    /// <summary>RESP3 <c>&gt;</c> out-of-band push (pub/sub messages, invalidations).</summary>
    Push,
}

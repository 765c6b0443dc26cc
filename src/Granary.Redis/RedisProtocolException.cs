namespace Granary.Redis;

/// <summary>The server sent bytes that are not valid RESP2/RESP3; the connection is dropped.</summary>
public sealed class RedisProtocolException : RedisException
{
    /// <summary>Creates the exception with a message that names what was malformed.</summary>
    public RedisProtocolException(string message) : base(message) { }
}

namespace Granary.Redis;

/// <summary>A command (or the connection handshake) got no reply within its timeout.</summary>
public sealed class RedisTimeoutException : RedisException
{
    /// <summary>Creates the exception with a message.</summary>
    public RedisTimeoutException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public RedisTimeoutException(string message, Exception? inner) : base(message, inner) { }
}

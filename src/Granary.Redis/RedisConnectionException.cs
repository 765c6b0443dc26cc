namespace Granary.Redis;

/// <summary>
/// The client is not connected, could not connect, or lost the connection while a command was in flight
/// (such a command may or may not have run on the server).
/// </summary>
public sealed class RedisConnectionException : RedisException
{
    /// <summary>Creates the exception with a message.</summary>
    public RedisConnectionException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public RedisConnectionException(string message, Exception? inner) : base(message, inner) { }
}

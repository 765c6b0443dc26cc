namespace Granary.Redis;

/// <summary>Base class of every exception the Redis client throws.</summary>
public class RedisException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public RedisException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public RedisException(string message, Exception? inner) : base(message, inner) { }
}

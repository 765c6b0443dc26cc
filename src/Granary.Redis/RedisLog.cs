using Microsoft.Extensions.Logging;

namespace Granary.Redis;

/// <summary>Source-generated log messages of the client.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(1, LogLevel.Information, "Connected to Redis {EndPoint} (RESP{Protocol}, database {Database})")]
    public static partial void Connected(ILogger logger, string endPoint, int protocol, int database);

    [LoggerMessage(2, LogLevel.Warning, "Lost the connection to Redis {EndPoint}; reconnecting")]
    public static partial void ConnectionLost(ILogger logger, string endPoint, Exception? error);

    [LoggerMessage(3, LogLevel.Warning, "Reconnect {Attempt} to Redis {EndPoint} failed; next try in {DelayMs} ms")]
    public static partial void ReconnectFailed(ILogger logger, int attempt, string endPoint, long delayMs, Exception error);

    [LoggerMessage(4, LogLevel.Information, "Redis {EndPoint} refused HELLO 3 ({Error}); using RESP2")]
    public static partial void FallbackToResp2(ILogger logger, string endPoint, string error);

    [LoggerMessage(5, LogLevel.Debug, "Dropped an unexpected RESP3 push from Redis {EndPoint}: {Kind}")]
    public static partial void PushDropped(ILogger logger, string endPoint, string kind);

    [LoggerMessage(6, LogLevel.Error, "Subscription handler for channel {Channel} threw")]
    public static partial void HandlerFailed(ILogger logger, string channel, Exception error);
}

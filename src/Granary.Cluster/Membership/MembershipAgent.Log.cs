using Microsoft.Extensions.Logging;

namespace Granary.Cluster.Membership;

// The agent's log messages, source-generated.
public sealed partial class MembershipAgent
{
    [LoggerMessage(1, LogLevel.Information, "Joined cluster '{ClusterId}' as {SiloKey}; {ActiveSilos} active silos")]
    private static partial void LogJoined(ILogger logger, string clusterId, string siloKey, int activeSilos);

    [LoggerMessage(2, LogLevel.Information, "Left cluster '{ClusterId}': {SiloKey} is marked dead")]
    private static partial void LogLeft(ILogger logger, string clusterId, string siloKey);

    [LoggerMessage(3, LogLevel.Information, "Created cluster '{ClusterId}' on {RedisUrl}")]
    private static partial void LogClusterCreated(ILogger logger, string clusterId, string redisUrl);

    [LoggerMessage(4, LogLevel.Warning, "Membership cannot reach Redis {RedisUrl} (the {Loop} loop failed); this silo keeps serving and retries until Redis is back")]
    private static partial void LogStoreUnavailable(ILogger logger, string redisUrl, string loop, Exception error);

    [LoggerMessage(5, LogLevel.Debug, "The {Loop} loop failed again while Redis is unavailable: {Error}")]
    private static partial void LogStoreStillUnavailable(ILogger logger, string loop, string error);

    [LoggerMessage(6, LogLevel.Information, "Redis {RedisUrl} answers membership again after {OutageMs} ms")]
    private static partial void LogStoreBack(ILogger logger, string redisUrl, long outageMs);

    [LoggerMessage(7, LogLevel.Warning, "The identity of cluster '{ClusterId}' was missing from Redis {RedisUrl} (it lost its data); set it again")]
    private static partial void LogIdentityRestored(ILogger logger, string clusterId, string redisUrl);

    [LoggerMessage(8, LogLevel.Error, "Cluster '{ClusterId}' on Redis {RedisUrl} now has another secret than this silo's (another cluster took its keys after Redis lost them?); every silo of a cluster needs the same GRANARY_CLUSTER_SECRET")]
    private static partial void LogIdentityMismatch(ILogger logger, string clusterId, string redisUrl);

    [LoggerMessage(9, LogLevel.Warning, "This silo's row {SiloKey} was missing from Redis {RedisUrl} (it lost its data); wrote it again as Active")]
    private static partial void LogRowRewritten(ILogger logger, string siloKey, string redisUrl);

    [LoggerMessage(10, LogLevel.Information, "Voted {SiloKey} dead after {Misses} missed probes ({Votes} of {Needed} votes)")]
    private static partial void LogVoted(ILogger logger, string siloKey, int misses, int votes, int needed);

    [LoggerMessage(11, LogLevel.Warning, "Declared {SiloKey} dead: {Votes} of {Needed} votes after missed probes")]
    private static partial void LogDeclaredDeadByVotes(ILogger logger, string siloKey, int votes, int needed);

    [LoggerMessage(12, LogLevel.Warning, "Declared {SiloKey} dead: no I-am-alive for {SilentMs} ms (death timeout {TimeoutMs} ms)")]
    private static partial void LogDeclaredDeadByTimeout(ILogger logger, string siloKey, long silentMs, long timeoutMs);

    [LoggerMessage(13, LogLevel.Error, "The cluster declared this silo {SiloKey} dead ({Votes} votes): it must stop serving and rejoin as a new generation")]
    private static partial void LogSelfDeclaredDead(ILogger logger, string siloKey, int votes);

    [LoggerMessage(14, LogLevel.Error, "This silo's row {SiloKey} is gone from the membership table and was last seen {UnseenSeconds} s ago (it may have been removed as dead): it must stop serving and rejoin as a new generation")]
    private static partial void LogSelfRowGone(ILogger logger, string siloKey, long unseenSeconds);

    [LoggerMessage(15, LogLevel.Debug, "Probe of {SiloKey} failed")]
    private static partial void LogProbeFailed(ILogger logger, string siloKey, Exception error);

    [LoggerMessage(16, LogLevel.Information, "Removed {Count} dead silos from the membership table (silent for more than {RetentionSeconds} s)")]
    private static partial void LogPruned(ILogger logger, int count, long retentionSeconds);

    [LoggerMessage(17, LogLevel.Error, "A MembershipAgent.Changed handler threw")]
    private static partial void LogChangedHandlerFailed(ILogger logger, Exception error);
}

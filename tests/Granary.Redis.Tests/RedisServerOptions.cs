using Granary.Tests.Shared;

namespace Granary.Redis.Tests;

/// <summary>Client options for a test's own redis-server: loopback, short timeouts and a fast reconnect.</summary>
public static class RedisServerOptions
{
    public static RedisOptions Options(this RedisServerProcess server, bool resp3 = true) => new()
    {
        Host = "127.0.0.1",
        Port = server.Port,
        PreferResp3 = resp3,
        ConnectTimeout = TimeSpan.FromSeconds(3),
        CommandTimeout = TimeSpan.FromSeconds(5),
        ReconnectBackoffMin = TimeSpan.FromMilliseconds(20),
        ReconnectBackoffMax = TimeSpan.FromMilliseconds(250),
    };
}

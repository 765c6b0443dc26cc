namespace Granary.Redis.Tests;

/// <summary>One redis-server per test class (classes run in parallel) for tests that do not stop, pause or reconfigure it.</summary>
public sealed class SharedServer : IAsyncLifetime
{
    public RedisServerProcess Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await RedisServerProcess.StartNewAsync();

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

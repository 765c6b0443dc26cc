using System.Collections.Concurrent;

namespace Granary.Redis.Tests;

/// <summary>PUBLISH and SUBSCRIBE (on a connection of its own), under RESP3 and RESP2, across a server restart.</summary>
public class PubSubTests
{
    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PublishedMessagesReachSubscribers(bool resp3)
    {
        await using var server = await RedisServerProcess.StartNewAsync();
        await using var client = await RedisClient.ConnectAsync(server.Options(resp3));
        var received = new ConcurrentQueue<string>();
        await using var subscription = await client.SubscribeAsync(["silos"], (channel, message) => received.Enqueue($"{channel}:{message}"));

        Assert.Equal(1, await client.PublishAsync("silos", "joined a"));
        Assert.Equal(0, await client.PublishAsync("nobody", "x"));
        await subscription.AddAsync("grains");
        await client.PublishAsync("grains", new byte[] { 0x68, 0x69 });
        await client.PublishAsync("silos", "joined b");
        await WaitUntil(() => received.Count == 3, "3 messages");
        Assert.Equal(["silos:joined a", "grains:hi", "silos:joined b"], received);

        await subscription.RemoveAsync("silos");
        Assert.Equal(0, await client.PublishAsync("silos", "lost"));

        // After a restart the subscription reconnects and subscribes again.
        await server.KillAsync();
        await server.StartAsync();
        await WaitUntil(() => client.IsConnected && subscription.IsConnected, "reconnect");
        await WaitUntil(() => client.PublishAsync("grains", "again").Result == 1, "resubscribe");
        await WaitUntil(() => received.Contains("grains:again"), "message after restart");
    }
}

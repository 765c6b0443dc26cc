using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Granary.Redis.Tests;

/// <summary>Timeouts, cancellation and a redis-server that dies and comes back. Each test has a server of its own.</summary>
public class ResilienceTests
{
    [Fact]
    public async Task CommandTimesOutAgainstAPausedServerAndLaterRepliesStayMatched()
    {
        await using var server = await RedisServerProcess.StartNewAsync();
        var options = server.Options();
        options.CommandTimeout = TimeSpan.FromMilliseconds(300);
        await using var client = await RedisClient.ConnectAsync(options);
        await client.SetAsync("t:a", "A");
        await client.SetAsync("t:b", "B");

        // DEBUG SLEEP blocks the whole server; its own reply then arrives long after the timeout.
        var sleeping = client.ExecuteAsync("DEBUG", "SLEEP", "1.5");
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RedisTimeoutException>(() => client.GetStringAsync("t:a"));
        Assert.InRange(watch.ElapsedMilliseconds, 250, 1400); // well before the server wakes up
        Assert.Contains("GET got no reply", e.Message);
        await Assert.ThrowsAsync<RedisTimeoutException>(() => sleeping);

        // Once the server answers again, the late replies are dropped and each new command gets its own.
        await Task.Delay(1500 - (int)watch.ElapsedMilliseconds + 100);
        Assert.Equal("B", await client.GetStringAsync("t:b"));
        Assert.Equal("A", await client.GetStringAsync("t:a"));
    }

    [Fact]
    public async Task ConnectTimesOutAgainstASocketThatNeverAnswers()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var accepted = listener.AcceptSocketAsync();
            var options = new RedisOptions
            {
                Host = "127.0.0.1", Port = ((IPEndPoint)listener.LocalEndpoint).Port, ConnectTimeout = TimeSpan.FromMilliseconds(400),
            };
            var watch = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(options));
            Assert.InRange(watch.ElapsedMilliseconds, 350, 3000);
            Assert.IsType<RedisTimeoutException>(e.InnerException);
            Assert.Contains("did not answer the handshake", e.Message);
            (await accepted).Dispose();
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task ConnectFailsClearlyWhenNothingListens()
    {
        var options = new RedisOptions { Host = "127.0.0.1", Port = RedisServerProcess.FreePort() };
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(options));
        Assert.Contains($"127.0.0.1:{options.Port}", e.Message);
    }

    [Fact]
    public async Task CancellationStopsTheWaitAndLeavesTheConnectionUsable()
    {
        await using var server = await RedisServerProcess.StartNewAsync();
        await using var client = await RedisClient.ConnectAsync(server.Options());
        await client.SetAsync("c:k", "v");

        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("c:k", cancelled.Token));
        }

        // Cancelled while the server sleeps: the wait ends before the server could have answered.
        var sleeping = client.ExecuteAsync("DEBUG", "SLEEP", "1.5");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("c:k", cts.Token));
        Assert.False(sleeping.IsCompleted, "cancellation waited for the server");
        await sleeping;
        Assert.Equal("v", await client.GetStringAsync("c:k"));
    }

    [Fact]
    public async Task ReconnectsAfterTheServerRestarts()
    {
        await using var server = await RedisServerProcess.StartNewAsync();
        var log = new ListLogger();
        await using var client = await RedisClient.ConnectAsync(server.Options(), log);
        await client.SetAsync("r:k", "before");

        await server.KillAsync();
        // Commands fail fast while disconnected (ReconnectWait is zero by default).
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RedisConnectionException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await client.GetAsync("r:k");
                await Task.Delay(20);
            }
        });
        Assert.True(watch.ElapsedMilliseconds < 2000);
        Assert.Contains(server.Port.ToString(), e.Message);
        await Task.Delay(300); // a few failed attempts, so the backoff is exercised
        Assert.False(client.IsConnected);
        await Assert.ThrowsAsync<RedisConnectionException>(() => client.GetAsync("r:k"));

        await server.StartAsync();
        var back = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.SetAsync("r:k", "after");
                break;
            }
            catch (RedisConnectionException) when (back.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(20);
            }
        }
        Assert.True(client.IsConnected);
        Assert.Equal("after", await client.GetStringAsync("r:k"));
        Assert.Equal(3, client.Protocol);
        var messages = log.Entries.Select(e => e.Message).ToList();
        Assert.Contains($"Lost the connection to Redis 127.0.0.1:{server.Port}; reconnecting", messages);
        Assert.Contains(messages, m => m.StartsWith("Reconnect 1 to Redis") && m.Contains("failed; next try in"));
        Assert.Equal(2, messages.Count(m => m == $"Connected to Redis 127.0.0.1:{server.Port} (RESP3, database 0)"));
    }

    [Fact]
    public async Task CommandsWaitForTheReconnectWhenAskedTo()
    {
        await using var server = await RedisServerProcess.StartNewAsync();
        var options = server.Options();
        options.ReconnectWait = TimeSpan.FromSeconds(10);
        options.Database = 5;
        await using var client = await RedisClient.ConnectAsync(options);
        await client.SetAsync("w:k", "v");

        await server.KillAsync();
        await Task.Delay(100);
        var restart = Task.Run(async () =>
        {
            await Task.Delay(400);
            await server.StartAsync();
        });
        // Issued while the server is down: waits for the reconnect instead of failing, and lands on database 5 again.
        Assert.True(await client.SetAsync("w:k2", "v2"));
        await restart;
        Assert.Contains(" db=5 ", (await client.ExecuteAsync("CLIENT", "INFO")).ToString());

        options.ReconnectWait = TimeSpan.FromMilliseconds(200);
        await using var impatient = await RedisClient.ConnectAsync(options);
        await server.KillAsync();
        await Task.Delay(100);
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => impatient.GetAsync("w:k"));
        Assert.Contains("waited 200 ms", e.Message);
    }

    [Fact]
    public async Task InFlightCommandsFailWhenTheConnectionDrops()
    {
        await using var server = await RedisServerProcess.StartNewAsync();
        await using var client = await RedisClient.ConnectAsync(server.Options());
        var sleeping = client.ExecuteAsync("DEBUG", "SLEEP", "2");
        var queued = client.GetAsync("k");
        await Task.Delay(100);
        await server.KillAsync();
        await Assert.ThrowsAsync<RedisConnectionException>(() => sleeping);
        await Assert.ThrowsAsync<RedisConnectionException>(() => queued);
    }
}

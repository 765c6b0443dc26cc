using System.Runtime.CompilerServices;
using Granary.Cluster.Transport;

namespace Granary.Cluster.Transport.Tests;

public sealed class GrainStreamTests
{
    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Frames(int count, [EnumeratorCancellation] CancellationToken ct = default)
    {
        for (int i = 0; i < count; i++)
        {
            if (i % 100 == 0) await Task.Yield();
            ct.ThrowIfCancellationRequested();
            // Frame i holds i % 300 bytes of value (byte)i, so empty frames and sizes around the header are in it.
            yield return Enumerable.Repeat((byte)i, i % 300).ToArray();
        }
    }

    [Fact]
    public async Task Many_frames_arrive_in_order_and_whole()
    {
        byte[]? seenBody = null;
        await using var endpoint = await TestSilos.StartAsync(e => e.MapStream("session", "generate", (_, body, ct) =>
        {
            seenBody = body.ToArray();
            return Frames(5000, ct);
        }));
        using var client = new SiloClient(TestSilos.Options());

        int i = 0;
        await foreach (byte[] frame in client.StreamAsync(endpoint.Url, "session", "s/1", "generate", new byte[] { 9, 8, 7 }, default))
        {
            Assert.Equal(i % 300, frame.Length);
            Assert.All(frame, b => Assert.Equal((byte)i, b));
            i++;
        }

        Assert.Equal(5000, i);
        Assert.Equal([9, 8, 7], seenBody);
    }

    [Fact]
    public async Task Empty_stream_ends_cleanly()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.MapStream("session", "generate", (_, _, ct) => Frames(0, ct)));
        using var client = new SiloClient(TestSilos.Options());

        var frames = await client.StreamAsync(endpoint.Url, "session", "s", "generate", default, default).ToListAsync();

        Assert.Empty(frames);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Leaving_mid_stream_cancels_the_handler_within_a_second(bool cancel)
    {
        var handlerCancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoint = await TestSilos.StartAsync(e => e.MapStream("session", "generate", (_, _, ct) => Endless(ct)));
        using var client = new SiloClient(TestSilos.Options());
        using var cts = new CancellationTokenSource();

        int seen = 0;
        var reading = Task.Run(async () =>
        {
            await foreach (byte[] frame in client.StreamAsync(endpoint.Url, "session", "s", "generate", default, cts.Token))
            {
                if (++seen == 3)
                {
                    if (cancel) cts.Cancel(); // the next read is cancelled
                    else break; // disposing the enumerator early
                }
            }
        });
        if (cancel) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        else await reading;

        Assert.True(await TestSilos.Within(handlerCancelled.Task, TimeSpan.FromSeconds(1)));
        Assert.Equal(3, seen);

        async IAsyncEnumerable<ReadOnlyMemory<byte>> Endless([EnumeratorCancellation] CancellationToken ct)
        {
            try
            {
                for (int i = 0; i < 3; i++) yield return new byte[] { (byte)i };
                await Task.Delay(Timeout.Infinite, ct);
            }
            finally
            {
                if (ct.IsCancellationRequested) handlerCancelled.TrySetResult(true);
            }
        }
    }

    [Fact]
    public async Task Handler_failing_before_the_first_frame_is_a_remote_failure()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.MapStream("session", "generate", (_, _, _) => Failing(0, "no model loaded")));
        using var client = new SiloClient(TestSilos.Options());

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.StreamAsync(endpoint.Url, "session", "s", "generate", default, default).ToListAsync().AsTask());

        Assert.Equal(GrainCallFailure.Remote, e.Kind);
        Assert.Equal("no model loaded", e.RemoteMessage);
        Assert.Equal(500, e.StatusCode);
    }

    [Fact]
    public async Task Handler_failing_mid_stream_is_a_remote_failure_after_the_frames_it_sent()
    {
        await using var endpoint = await TestSilos.StartAsync(e =>
        {
            e.MapStream("session", "generate", (_, _, _) => Failing(5, "device lost"));
            e.MapStream("session", "ok", (_, _, ct) => Frames(5, ct));
        });
        using var client = new SiloClient(TestSilos.Options());

        var frames = new List<byte[]>();
        var e = await Assert.ThrowsAsync<GrainCallException>(async () =>
        {
            await foreach (byte[] frame in client.StreamAsync(endpoint.Url, "session", "s/2", "generate", default, default)) frames.Add(frame);
        });

        Assert.Equal(5, frames.Count);
        Assert.Equal(GrainCallFailure.Remote, e.Kind);
        Assert.Equal("device lost", e.RemoteMessage);
        Assert.Contains("session/s/2.generate", e.Message);
        // The endpoint serves on.
        Assert.Equal(5, (await client.StreamAsync(endpoint.Url, "session", "s", "ok", default, default).ToListAsync()).Count);
    }

    [Fact]
    public async Task Missing_activation_of_a_stream_is_not_found()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.MapStream("session", "generate", (key, _, _) => throw new GrainNotFoundException("session", key)));
        using var client = new SiloClient(TestSilos.Options());

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.StreamAsync(endpoint.Url, "session", "s", "generate", default, default).ToListAsync().AsTask());

        Assert.Equal(GrainCallFailure.NotFound, e.Kind);
    }

    [Fact]
    public async Task Endpoint_dying_mid_stream_breaks_the_stream()
    {
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoint = await TestSilos.StartAsync(e => e.MapStream("session", "generate", (_, _, ct) => Slow(ct)));
        using var client = new SiloClient(TestSilos.Options());

        var frames = new List<byte[]>();
        var reading = Task.Run(async () =>
        {
            await foreach (byte[] frame in client.StreamAsync(endpoint.Url, "session", "s", "generate", default, default))
            {
                frames.Add(frame);
                if (frames.Count == 2) streaming.TrySetResult();
            }
        });
        await streaming.Task;
        var disposing = endpoint.DisposeAsync().AsTask();

        var e = await Assert.ThrowsAsync<GrainCallException>(() => reading.WaitAsync(TimeSpan.FromSeconds(10)));
        await disposing;

        Assert.Equal(GrainCallFailure.Broken, e.Kind);
        Assert.True(frames.Count >= 2);

        static async IAsyncEnumerable<ReadOnlyMemory<byte>> Slow([EnumeratorCancellation] CancellationToken ct)
        {
            for (int i = 0; ; i++)
            {
                yield return new byte[] { (byte)i };
                await Task.Delay(20, ct);
            }
        }
    }

    [Fact]
    public async Task Stream_to_a_stopped_endpoint_is_unreachable()
    {
        var endpoint = await TestSilos.StartAsync(e => e.MapStream("session", "generate", (_, _, ct) => Frames(1, ct)));
        string url = endpoint.Url;
        await endpoint.DisposeAsync();
        using var client = new SiloClient(TestSilos.Options());

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.StreamAsync(url, "session", "s", "generate", default, default).ToListAsync().AsTask());

        Assert.Equal(GrainCallFailure.Unreachable, e.Kind);
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Failing(int framesFirst, string message)
    {
        for (int i = 0; i < framesFirst; i++)
        {
            await Task.Yield();
            yield return new byte[] { (byte)i };
        }
        throw new InvalidOperationException(message);
    }
}

using System.Text;
using Granary.Cluster.Transport;

namespace Granary.Cluster.Transport.Tests;

public sealed class GrainCallTests
{
    private static ValueTask<ReadOnlyMemory<byte>> Answer(byte[] bytes) => ValueTask.FromResult<ReadOnlyMemory<byte>>(bytes);

    [Fact]
    public async Task Binary_body_makes_the_round_trip()
    {
        string? seenKey = null;
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (key, body, _) =>
        {
            seenKey = key;
            // Answer with the body reversed, so that both directions are checked byte for byte.
            byte[] reversed = body.ToArray();
            Array.Reverse(reversed);
            return Answer(reversed);
        }));
        using var client = new SiloClient(TestSilos.Options());
        byte[] body = new byte[1000];
        new Random(7).NextBytes(body);
        body[0] = 0; body[^1] = 0xFF;

        byte[] answer = await client.CallAsync(endpoint.Url, "rank", "llama/replica-0/rank 1%", "step", body, TestSilos.Timeout, default);

        Assert.Equal(body.Reverse(), answer);
        Assert.Equal("llama/replica-0/rank 1%", seenKey);
        Assert.NotEqual(0, endpoint.Port);
        Assert.Equal($"http://127.0.0.1:{endpoint.Port}", endpoint.Url);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/../b")]
    [InlineData("../x?y=1#z")]
    [InlineData("ключ/日本")]
    public async Task Keys_arrive_as_they_were_sent(string grainKey)
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("g", "echo-key", (key, _, _) => Answer(Encoding.UTF8.GetBytes(key))));
        using var client = new SiloClient(TestSilos.Options());

        byte[] answer = await client.CallAsync(endpoint.Url, "g", grainKey, "echo-key", ReadOnlyMemory<byte>.Empty, TestSilos.Timeout, default);

        Assert.Equal(grainKey, Encoding.UTF8.GetString(answer));
    }

    [Fact]
    public async Task Large_body_and_empty_answer()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("kv", "put", (_, body, _) =>
            Answer(body.Length == 3 << 20 && body.Span[^1] == 42 ? [] : [1])));
        using var client = new SiloClient(TestSilos.Options());
        byte[] body = new byte[3 << 20];
        body[^1] = 42;

        byte[] answer = await client.CallAsync(endpoint.Url, "kv", "k", "put", body, TestSilos.Timeout, default);

        Assert.Empty(answer);
    }

    [Fact]
    public async Task Bodies_larger_than_the_flow_control_windows_arrive_whole_side_by_side()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("kv", "put", (_, body, _) =>
        {
            long sum = 0;
            foreach (byte b in body.Span) sum += b;
            return Answer(BitConverter.GetBytes(sum));
        }));
        using var client = new SiloClient(TestSilos.Options());
        byte[] body = new byte[24 << 20];
        new Random(3).NextBytes(body);
        long expected = body.Sum(b => (long)b);

        var calls = Enumerable.Range(0, 4).Select(_ => client.CallAsync(endpoint.Url, "kv", "k", "put", body, TestSilos.Timeout, default));

        Assert.All(await Task.WhenAll(calls), answer => Assert.Equal(expected, BitConverter.ToInt64(answer)));
    }

    [Fact]
    public async Task Handler_exception_is_a_remote_failure_with_its_message_and_the_endpoint_serves_on()
    {
        int calls = 0;
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (_, _, _) =>
            Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("the KV cache is full") : Answer([7])));
        using var client = new SiloClient(TestSilos.Options());

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "rank", "r/0", "step", new byte[] { 1 }, TestSilos.Timeout, default));

        Assert.Equal(GrainCallFailure.Remote, e.Kind);
        Assert.Equal("the KV cache is full", e.RemoteMessage);
        Assert.Equal(500, e.StatusCode);
        Assert.Contains("the KV cache is full", e.Message);
        Assert.Contains(endpoint.Url, e.Message);
        Assert.Contains("rank/r/0.step", e.Message);
        Assert.Equal([7], await client.CallAsync(endpoint.Url, "rank", "r/0", "step", new byte[] { 1 }, TestSilos.Timeout, default));
    }

    [Fact]
    public async Task Async_handler_exception_is_a_remote_failure_too()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", async (_, _, ct) =>
        {
            await Task.Delay(10, ct);
            throw new ArgumentException("bad plan");
        }));
        using var client = new SiloClient(TestSilos.Options());

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "rank", "r", "step", new byte[] { 1 }, TestSilos.Timeout, default));

        Assert.Equal(GrainCallFailure.Remote, e.Kind);
        Assert.Equal("bad plan", e.RemoteMessage);
    }

    [Fact]
    public async Task Missing_activation_is_not_found()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (key, _, _) => throw new GrainNotFoundException("rank", key)));
        using var client = new SiloClient(TestSilos.Options());

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "rank", "gone/3", "step", default, TestSilos.Timeout, default));

        Assert.Equal(GrainCallFailure.NotFound, e.Kind);
        Assert.Equal(404, e.StatusCode);
        Assert.Contains("gone/3", e.Message);
    }

    [Fact]
    public async Task Unknown_grain_type_or_method_is_not_found()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (_, _, _) => Answer([])));
        using var client = new SiloClient(TestSilos.Options());

        var type = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "session", "s", "step", default, TestSilos.Timeout, default));
        var method = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "rank", "r", "load", default, TestSilos.Timeout, default));

        Assert.Equal(GrainCallFailure.NotFound, type.Kind);
        Assert.Equal(GrainCallFailure.NotFound, method.Kind);
        Assert.Contains("load", method.RemoteMessage);
    }

    [Fact]
    public async Task Stopped_endpoint_is_unreachable()
    {
        var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (_, _, _) => Answer([1])));
        string url = endpoint.Url;
        using var client = new SiloClient(TestSilos.Options());
        Assert.Equal([1], await client.CallAsync(url, "rank", "r", "step", default, TestSilos.Timeout, default));
        await endpoint.DisposeAsync();

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(url, "rank", "r", "step", default, TestSilos.Timeout, default));

        Assert.Equal(GrainCallFailure.Unreachable, e.Kind);
        Assert.Contains(url, e.Message);
    }

    [Fact]
    public async Task Slow_handler_times_out_and_sees_its_token_cancelled()
    {
        var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "load", async (_, _, ct) =>
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(30), ct);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult(true);
                throw;
            }
            return new byte[] { 1 };
        }));
        using var client = new SiloClient(TestSilos.Options());

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "rank", "r", "load", default, TimeSpan.FromMilliseconds(200), default));

        Assert.Equal(GrainCallFailure.Timeout, e.Kind);
        Assert.True(await TestSilos.Within(cancelled.Task, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Callers_cancellation_stays_a_cancellation()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "load", async (_, _, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ct);
            return new byte[] { 1 };
        }));
        using var client = new SiloClient(TestSilos.Options());
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.CallAsync(endpoint.Url, "rank", "r", "load", default, TestSilos.Timeout, cts.Token));
    }

    [Fact]
    public async Task Two_hundred_concurrent_calls_all_succeed()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", async (key, body, ct) =>
        {
            await Task.Delay(Random.Shared.Next(0, 20), ct);
            return Encoding.UTF8.GetBytes(key + ":" + body.Length);
        }));
        using var client = new SiloClient(TestSilos.Options());

        var calls = Enumerable.Range(0, 200).Select(async i =>
        {
            byte[] answer = await client.CallAsync(endpoint.Url, "rank", $"r/{i}", "step", new byte[i * 10], TestSilos.Timeout, default);
            return Encoding.UTF8.GetString(answer) == $"r/{i}:{i * 10}";
        }).ToArray();

        Assert.All(await Task.WhenAll(calls), Assert.True);
    }

    [Fact]
    public async Task Handlers_are_registered_before_start_only()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (_, _, _) => Answer([])));

        Assert.Throws<InvalidOperationException>(() => endpoint.Map("rank", "other", (_, _, _) => Answer([])));
    }
}

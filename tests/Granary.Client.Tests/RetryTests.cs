using System.Net;
using System.Net.Sockets;
using Granary.Client.Models;

namespace Granary.Client.Tests;

/// <summary>Retries on 429 (Retry-After), failover across gateways, and what is thrown once they are spent.</summary>
[Collection(ServerCollection.Name)]
public sealed class RetryTests(StoriesServer server)
{
    private static CompletionRequest Story() => new() { Prompt = TestData.StoryPrompt, MaxTokens = 12, Temperature = 0 };

    [Fact]
    public async Task BusyServerIsAskedAgainAfterRetryAfter()
    {
        await server.IdleAsync();
        double refused = await server.Server.RequestsAsync("completions", 429);
        using var blockers = new CancellationTokenSource();
        using var blocking = server.Client(o => o.MaxRetries = 0);
        var running = FillQueueAsync(blocking, blockers.Token);
        await QueueFullAsync();

        var log = new CapturingLogger();
        using var client = server.Client(o => o.MaxRetries = 10, log);
        var call = client.CompleteAsync(Story());
        await server.Server.EventuallyAsync(() => Task.FromResult(log.Messages.Count > 0), "the client to be told 429");
        Assert.Contains("is busy (429)", log.Messages[0]);
        Assert.Contains("asking again in 1000 ms", log.Messages[0]); // the server's Retry-After: 1
        blockers.Cancel();

        var response = await call;
        Assert.Equal(TestData.StoryContinuation[..response.Text.Length], response.Text);
        Assert.Equal(12, response.Usage!.CompletionTokens);
        Assert.True(await server.Server.RequestsAsync("completions", 429) > refused);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }

    [Fact]
    public async Task Without429RetriesTheCallerGetsTheRetryAfter()
    {
        await server.IdleAsync();
        using var blockers = new CancellationTokenSource();
        using var client = server.Client(o => o.MaxRetries = 0);
        var running = FillQueueAsync(client, blockers.Token);
        await QueueFullAsync();

        var busy = await Assert.ThrowsAsync<GranaryApiException>(() => client.CompleteAsync(Story()));
        Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        Assert.Equal("rate_limit_error", busy.Type);
        Assert.Equal("queue_full", busy.Code);
        Assert.Equal(TimeSpan.FromSeconds(1), busy.RetryAfter);
        blockers.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }

    [Fact]
    public async Task FailsOverWhenTheFirstGatewayIsDown()
    {
        var log = new CapturingLogger();
        var down = new Uri($"http://127.0.0.1:{UnusedPort()}/");
        using var client = server.Client(o => o.Endpoints = [down, server.BaseUrl], log);
        Assert.Equal(down, client.CurrentEndpoint);

        var response = await client.CompleteAsync(Story());
        Assert.Equal(TestData.StoryContinuation[..response.Text.Length], response.Text);
        Assert.Equal(server.BaseUrl, client.CurrentEndpoint);
        Assert.Contains(log.Messages, m => m.Contains($"{down} could not be reached") && m.Contains($"trying {server.BaseUrl} in 0 ms"));

        // Later requests (streams too) go straight to the gateway that answered.
        int logged = log.Messages.Count;
        await foreach (var _ in client.CompleteStreamingAsync(Story())) { }
        Assert.Equal(logged, log.Messages.Count);
    }

    [Fact]
    public async Task FailsOverWhenTheFirstGatewayIsUnavailable()
    {
        await using var unavailable = new FakeGateway(503, "Service Unavailable", "application/json",
            """{"error":{"message":"the server is shutting down","type":"server_error","param":null,"code":"service_unavailable"}}""");
        var log = new CapturingLogger();
        using var client = server.Client(o => o.Endpoints = [unavailable.BaseUrl, server.BaseUrl], log);
        var chunks = new List<ChatCompletionChunk>();
        await foreach (var chunk in client.CompleteChatStreamingAsync(new ChatCompletionRequest { Messages = [ChatRequestMessage.User(TestData.StoryPrompt)], MaxTokens = 8, Temperature = 0 }))
            chunks.Add(chunk);
        Assert.Equal(1, unavailable.Requests);
        Assert.Equal(TestData.StoryContinuation[..string.Concat(chunks.Select(c => c.ContentDelta)).Length], string.Concat(chunks.Select(c => c.ContentDelta)));
        Assert.Contains(log.Messages, m => m.Contains($"{unavailable.BaseUrl} is unavailable (503)"));
    }

    [Fact]
    public async Task AllGatewaysDownThrowsNamingThem()
    {
        var a = new Uri($"http://127.0.0.1:{UnusedPort()}/");
        var b = new Uri($"http://127.0.0.1:{UnusedPort()}/");
        var log = new CapturingLogger();
        using var client = new GranaryClient(new GranaryClientOptions { Endpoints = [a, b], MaxRetries = 3, RetryDelay = TimeSpan.FromMilliseconds(10) }, log);
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.CompleteAsync(Story()));
        Assert.Contains($"no Granary gateway answered ({a}, {b})", e.Message);
        Assert.Equal(HttpRequestError.ConnectionError, e.HttpRequestError);
        Assert.Equal(3, log.Messages.Count); // every retry is logged

        // Streams too, before any chunk.
        await Assert.ThrowsAsync<HttpRequestException>(async () => { await foreach (var _ in client.CompleteStreamingAsync(Story())) { } });
    }

    [Fact]
    public async Task AnErrorEventInsideAStreamThrows()
    {
        await using var failing = new FakeGateway(200, "OK", "text/event-stream",
            "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"text\":\"Once\",\"logprobs\":null,\"finish_reason\":null}]}\n\n" +
            "data: {\"error\":{\"message\":\"the engine failed: out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":\"engine_error\"}}\n\n");
        using var client = new GranaryClient(failing.BaseUrl);
        var texts = new List<string>();
        var e = await Assert.ThrowsAsync<GranaryApiException>(async () =>
        {
            await foreach (var chunk in client.CompleteStreamingAsync(Story())) texts.Add(chunk.Text);
        });
        Assert.Equal(["Once"], texts);
        Assert.Null(e.StatusCode);
        Assert.Equal("engine_error", e.Code);
        Assert.Equal("the engine failed: out of memory", e.Message);
    }

    [Fact]
    public async Task AStreamCutBeforeDoneThrows()
    {
        await using var cut = new FakeGateway(200, "OK", "text/event-stream",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n");
        using var client = new GranaryClient(cut.BaseUrl);
        var e = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (var _ in client.CompleteChatStreamingAsync(new ChatCompletionRequest { Messages = [ChatRequestMessage.User("x")] })) { }
        });
        Assert.Contains("before [DONE]", e.Message);
    }

    [Fact]
    public async Task ANonJsonErrorKeepsItsStatus()
    {
        await using var proxy = new FakeGateway(418, "I'm a teapot", "text/html", "<html>no</html>");
        using var client = new GranaryClient(proxy.BaseUrl);
        var e = await Assert.ThrowsAsync<GranaryApiException>(() => client.ListModelsAsync());
        Assert.Equal((HttpStatusCode)418, e.StatusCode);
        Assert.Equal("HTTP 418 I'm a teapot: <html>no</html>", e.Message);
        Assert.Equal(1, proxy.Requests); // not retried
    }

    /// <summary>
    /// Fills the server (one running sequence, a waiting queue of one) with one long request of two choices:
    /// the second waits while the first generates 200 tokens, so the queue is full from the moment the request
    /// is admitted, with no race between two separate requests.
    /// </summary>
    private static Task FillQueueAsync(GranaryClient client, CancellationToken cancellationToken) =>
        Drain(client.CompleteStreamingAsync(new CompletionRequest { Prompt = TestData.StoryPrompt, MaxTokens = 200, IgnoreEos = true, N = 2 }, cancellationToken: cancellationToken));

    private Task QueueFullAsync() => server.Server.EventuallyAsync(async () =>
        await server.Server.MetricAsync("granary_num_requests_running") == 1 && await server.Server.MetricAsync("granary_num_requests_waiting") == 1,
        "one choice to run and the other to wait");

    private static async Task Drain<T>(IAsyncEnumerable<T> stream)
    {
        await foreach (var _ in stream) { }
    }

    /// <summary>A loopback port with nothing listening (bound and released: connecting to it is refused).</summary>
    private static int UnusedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}

using Granary.Client.Models;

namespace Granary.Client.Tests;

/// <summary>Cancelling a call, or leaving a stream early, makes the server abort the request.</summary>
[Collection(ServerCollection.Name)]
public sealed class CancellationTests(StoriesServer server)
{
    // Long enough to be still running when the test cancels it: 200 tokens, EOS ignored.
    private static CompletionRequest LongRequest() => new() { Prompt = TestData.StoryPrompt, MaxTokens = 200, Temperature = 0, IgnoreEos = true };

    [Fact]
    public async Task CancellingMidStreamAbortsTheServersRequest()
    {
        using var client = server.Client();
        await server.ExpectAbortedAsync(async () =>
        {
            using var cancel = new CancellationTokenSource();
            int chunks = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var chunk in client.CompleteStreamingAsync(LongRequest(), cancellationToken: cancel.Token))
                {
                    if (++chunks == 1)
                    {
                        await server.Server.EventuallyAsync(async () => await server.Server.MetricAsync("granary_num_requests_running") == 1, "the request to run");
                        cancel.Cancel();
                    }
                }
            });
        });
        Assert.Equal(0, await server.Server.MetricAsync("granary_kv_cache_used_blocks"));
    }

    [Fact]
    public async Task LeavingAStreamEarlyAbortsTheServersRequest()
    {
        using var client = server.Client();
        await server.ExpectAbortedAsync(async () =>
        {
            await foreach (var chunk in client.CompleteChatStreamingAsync(new ChatCompletionRequest { Messages = [ChatRequestMessage.User(TestData.StoryPrompt)], MaxTokens = 200, IgnoreEos = true }))
            {
                if (chunk.ContentDelta.Length > 0) break; // disposes the enumerator: the connection must close, not drain
            }
        });
    }

    [Fact]
    public async Task CancellingAnAnswerThatIsNotStreamedAbortsIt()
    {
        using var client = server.Client();
        await server.ExpectAbortedAsync(async () =>
        {
            using var cancel = new CancellationTokenSource();
            var call = client.CompleteAsync(LongRequest(), cancel.Token);
            await server.Server.EventuallyAsync(async () => await server.Server.MetricAsync("granary_num_requests_running") == 1, "the request to run");
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        });
    }
}

using Granary.Engine;

namespace Granary.Serving.Tests;

/// <summary>A handle fed by a producer other than the <see cref="AsyncEngine"/> (a gateway relaying another silo's events).</summary>
public sealed class GenerationHandleTests
{
    private static GenerationRequest Request => new() { Prompts = [[1, 2, 3]], Sampling = SamplingParams.Greedy(4), Stream = true };

    [Fact]
    public async Task RelayedEventsReachTheReaderAndFinishingNeedsNoCancel()
    {
        int cancels = 0;
        using var handle = new GenerationHandle(Request, () => Interlocked.Increment(ref cancels));
        var producer = Task.Run(async () =>
        {
            foreach (string piece in new[] { "Once", " upon", " a time" })
            {
                await Task.Yield();
                Assert.True(handle.Writer.TryWrite(new GenerationEvent { Text = piece, TokenIds = [piece.Length] }));
            }
            handle.Writer.TryWrite(new GenerationEvent { FinishReason = FinishReason.Length, CompletionTokens = 4 });
            handle.Writer.TryComplete();
        });
        var events = new List<GenerationEvent>();
        await foreach (var e in handle.Events.ReadAllAsync()) events.Add(e);
        await producer;
        Assert.Equal("Once upon a time", string.Concat(events.Select(e => e.Text)));
        Assert.Equal(FinishReason.Length, events[^1].FinishReason);
        handle.Dispose();
        Assert.Equal(0, cancels);
    }

    [Fact]
    public void CancelCallsTheProducerOnce()
    {
        int cancels = 0;
        var handle = new GenerationHandle(Request, () => Interlocked.Increment(ref cancels));
        handle.Writer.TryWrite(new GenerationEvent { Text = "unread" });
        handle.Cancel();
        handle.Cancel();
        handle.Dispose();
        Assert.Equal(1, cancels);
    }

    [Fact]
    public void TheTokenCancelsTheHandleUntilItIsDisposed()
    {
        int cancels = 0;
        using var source = new CancellationTokenSource();
        var handle = new GenerationHandle(Request, () => Interlocked.Increment(ref cancels), source.Token);
        source.Cancel();
        Assert.Equal(1, cancels);

        int late = 0;
        using var other = new CancellationTokenSource();
        var disposed = new GenerationHandle(Request, () => Interlocked.Increment(ref late), other.Token);
        disposed.Writer.TryComplete();
        Assert.False(disposed.Events.TryRead(out _));
        disposed.Dispose();
        other.Cancel();
        Assert.Equal(0, late);

        int early = 0;
        _ = new GenerationHandle(Request, () => Interlocked.Increment(ref early), new CancellationToken(canceled: true));
        Assert.Equal(1, early);
        Assert.Throws<ArgumentNullException>(() => new GenerationHandle(Request, null!));
        handle.Dispose();
    }
}

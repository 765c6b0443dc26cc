using System.Threading.Channels;

namespace Granary.Engine;

/// <summary>
/// One request's answer as a stream of <see cref="GenerationEvent"/>s, and the way to cancel it. A producer
/// writes the events to <see cref="Writer"/>: the <see cref="AsyncEngine"/> that runs the request, or a relay
/// such as a gateway forwarding the events another silo produces. The consumer reads <see cref="Events"/> and
/// disposes the handle, which cancels whatever still runs (the producer's cancel callback; for the
/// <see cref="AsyncEngine"/>, the engine thread aborts the sequences and frees their KV blocks).
/// </summary>
public sealed class GenerationHandle : IDisposable
{
    private readonly Channel<GenerationEvent> _events = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Action _cancel;
    private CancellationTokenRegistration _registration;
    private int _cancelled;

    /// <summary>
    /// A handle whose events <paramref name="request"/>'s producer writes to <see cref="Writer"/>.
    /// <paramref name="cancel"/> is called once, on the first <see cref="Cancel"/> (or <see cref="Dispose"/>
    /// before the events were all read, or when <paramref name="cancellationToken"/> is cancelled), on the thread
    /// that does it: it must return quickly, not throw, and do nothing for a request that already finished. When
    /// the token is already cancelled it is called before this constructor returns.
    /// </summary>
    public GenerationHandle(GenerationRequest request, Action cancel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(cancel);
        Request = request;
        _cancel = cancel;
        CancelWhen(cancellationToken);
    }

    public GenerationRequest Request { get; }

    /// <summary>The request's events, completed when every choice finished (or after an error event).</summary>
    public ChannelReader<GenerationEvent> Events => _events.Reader;

    /// <summary>
    /// For the producer: each choice's events in order, its last one with a <see cref="GenerationEvent.FinishReason"/>;
    /// or one event with an <see cref="GenerationEvent.Error"/>. Complete it once every choice finished or after
    /// the error. Unbounded, so writes never wait; safe from any thread.
    /// </summary>
    public ChannelWriter<GenerationEvent> Writer => _events.Writer;

    /// <summary>Cancels the request when <paramref name="cancellationToken"/> is cancelled, until the handle is disposed.</summary>
    internal void CancelWhen(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
            _registration = cancellationToken.UnsafeRegister(static h => ((GenerationHandle)h!).Cancel(), this);
    }

    /// <summary>Asks the producer to stop whatever still runs; safe to call from any thread, more than once.</summary>
    public void Cancel()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) == 0) _cancel();
    }

    /// <summary>Cancels the request unless every event was already read.</summary>
    public void Dispose()
    {
        _registration.Dispose();
        if (!_events.Reader.Completion.IsCompleted) Cancel();
    }
}

using System.Threading.Channels;
using Granary.Engine;

namespace Granary.Serving;

/// <summary>
/// One submitted request: its events, and disposal that cancels it (the engine thread aborts its
/// sequences and frees their blocks) unless it already finished.
/// </summary>
public sealed class GenerationHandle : IDisposable
{
    internal GenerationHandle(AsyncEngine engine, GenerationRequest request)
    {
        Engine = engine;
        Request = request;
        Remaining = request.Sequences;
        SubmittedAt = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    internal AsyncEngine Engine { get; }
    public GenerationRequest Request { get; }
    internal Channel<GenerationEvent> Output { get; } = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    internal List<Sequence> Sequences { get; } = [];
    internal int Remaining { get; set; }
    internal long SubmittedAt { get; }
    internal CancellationTokenRegistration Registration { get; set; }

    /// <summary>Set by the engine thread once every sequence finished or was aborted.</summary>
    internal bool Done { get; set; }
    private int _cancelled;

    /// <summary>The request's events, completed when every choice finished.</summary>
    public ChannelReader<GenerationEvent> Events => Output.Reader;

    /// <summary>Asks the engine thread to abort whatever still runs; safe to call from any thread, more than once.</summary>
    public void Cancel()
    {
        if (Interlocked.Exchange(ref _cancelled, 1) == 0) Engine.RequestAbort(this);
    }

    public void Dispose()
    {
        Registration.Dispose();
        Cancel();
    }
}

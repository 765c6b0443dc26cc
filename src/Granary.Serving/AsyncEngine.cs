using System.Diagnostics;
using System.Threading.Channels;
using Granary.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Serving;

/// <summary>
/// Puts an <see cref="LlmEngine"/> (not thread-safe) behind a thread-safe, asynchronous front: one
/// dedicated thread owns the engine, takes submissions and cancellations from a channel, runs
/// <see cref="LlmEngine.Step"/> while there is work and sleeps on the channel otherwise, and writes
/// each request's output to that request's own channel.
/// </summary>
public sealed partial class AsyncEngine : IDisposable
{
    private readonly LlmEngine _engine;
    private readonly AsyncEngineOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Command> _inbox = Channel.CreateUnbounded<Command>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<Sequence, Choice> _choices = new(ReferenceEqualityComparer.Instance);
    private readonly Thread _thread;
    private readonly CancellationTokenSource _stop = new();
    private int _queued;
    private volatile bool _stopped;

    public AsyncEngine(LlmEngine engine, AsyncEngineOptions? options = null, ILogger? logger = null)
    {
        _engine = engine;
        _options = options ?? new AsyncEngineOptions();
        _logger = logger ?? NullLogger.Instance;
        Metrics.KvTotalBlocks = engine.Blocks.TotalBlocks;
        _thread = new Thread(Loop) { Name = "granary-engine", IsBackground = true };
        _thread.Start();
    }

    public ServingMetrics Metrics { get; } = new();

    /// <summary>Longest prompt plus output (read-only once the engine is built).</summary>
    public int MaxModelLength => _engine.MaxModelLength;

    /// <summary>False once the loop stopped (disposed, or died): the server is not ready.</summary>
    public bool IsRunning => !_stopped;

    /// <summary>
    /// Queues a request. Throws <see cref="QueueFullException"/> when the waiting queue is at its bound and
    /// <see cref="ObjectDisposedException"/> after shutdown. Cancelling <paramref name="cancellationToken"/>
    /// (or disposing the handle) aborts the request and frees its KV blocks.
    /// </summary>
    public GenerationHandle Submit(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(request.N, 1);
        if (request.Prompts.Count == 0) throw new ArgumentException("no prompt");
        ObjectDisposedException.ThrowIf(_stopped, this);
        int waiting = Volatile.Read(ref _queued) + (int)Metrics.WaitingSequences;
        if (waiting + request.Sequences > _options.MaxWaiting && waiting > 0) throw new QueueFullException(waiting);
        var handle = new GenerationHandle(this, request);
        Interlocked.Add(ref _queued, request.Sequences);
        if (!_inbox.Writer.TryWrite(new Command(handle, Abort: false)))
        {
            Interlocked.Add(ref _queued, -request.Sequences);
            throw new ObjectDisposedException(nameof(AsyncEngine));
        }
        if (cancellationToken.CanBeCanceled)
            handle.Registration = cancellationToken.UnsafeRegister(static h => ((GenerationHandle)h!).Cancel(), handle);
        return handle;
    }

    internal void RequestAbort(GenerationHandle handle) => _inbox.Writer.TryWrite(new Command(handle, Abort: true));

    private void Loop()
    {
        var reader = _inbox.Reader;
        try
        {
            while (true)
            {
                while (reader.TryRead(out var command)) Handle(command);
                if (_engine.HasWork)
                {
                    IReadOnlyList<Sequence> advanced;
                    try
                    {
                        advanced = _engine.Step();
                    }
                    catch (Exception e)
                    {
                        // One failed step must not take the server down: fail what runs and go on.
                        Interlocked.Increment(ref Metrics.EngineErrors);
                        LogStepFailed(e);
                        FailAll($"the engine failed: {e.Message}");
                        continue;
                    }
                    Publish(advanced);
                    UpdateGauges();
                    continue;
                }
                UpdateGauges();
                if (_stop.IsCancellationRequested) break;
                try
                {
                    if (!reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult()) break;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            LogLoopDied(e);
        }
        finally
        {
            _stopped = true;
            _inbox.Writer.TryComplete();
            while (reader.TryRead(out var command)) Handle(command);
            FailAll("the server is shutting down");
        }
    }

    private void Handle(Command command)
    {
        var handle = command.Handle;
        if (command.Abort)
        {
            if (handle.Done) return;
            foreach (var sequence in handle.Sequences)
            {
                if (sequence.Status != SequenceStatus.Finished)
                {
                    _engine.Abort(sequence);
                    Interlocked.Increment(ref Metrics.Aborted);
                }
                _choices.Remove(sequence);
            }
            Complete(handle);
            return;
        }

        var request = handle.Request;
        Interlocked.Add(ref _queued, -request.Sequences);
        if (handle.Done) return;
        if (_stopped)
        {
            Fail(handle, "the server is shutting down", badRequest: false);
            return;
        }
        try
        {
            for (int p = 0; p < request.Prompts.Count; p++)
            {
                for (int j = 0; j < request.N; j++)
                {
                    // With a seed, each of the n choices still draws differently, reproducibly.
                    var sampling = j > 0 && request.Sampling.Seed is { } seed ? request.Sampling with { Seed = unchecked(seed + j) } : request.Sampling;
                    var sequence = _engine.Add(request.Prompts[p], sampling);
                    handle.Sequences.Add(sequence);
                    _choices.Add(sequence, new Choice(handle, p * request.N + j));
                    Interlocked.Add(ref Metrics.PromptTokens, sequence.PromptLength);
                }
            }
        }
        catch (ArgumentException e)
        {
            foreach (var sequence in handle.Sequences)
            {
                _engine.Abort(sequence);
                _choices.Remove(sequence);
            }
            Fail(handle, e.Message, badRequest: true);
        }
    }

    private void Publish(IReadOnlyList<Sequence> advanced)
    {
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < advanced.Count; i++)
        {
            var sequence = advanced[i];
            if (!_choices.TryGetValue(sequence, out var choice)) continue;
            var handle = choice.Handle;
            Interlocked.Increment(ref Metrics.GenerationTokens);
            if (choice.LastTokenAt == 0)
            {
                Metrics.TimeToFirstToken.Observe(Stopwatch.GetElapsedTime(handle.SubmittedAt, now).TotalSeconds);
                if (sequence.CachedTokens > 0) Interlocked.Add(ref Metrics.CachedPromptTokens, sequence.CachedTokens);
            }
            else Metrics.InterTokenLatency.Observe(Stopwatch.GetElapsedTime(choice.LastTokenAt, now).TotalSeconds);
            choice.LastTokenAt = now;

            bool finished = sequence.Status == SequenceStatus.Finished;
            if (handle.Request.Stream || finished)
            {
                int streamable = sequence.StreamableLength;
                if (streamable > choice.SentChars || finished)
                {
                    handle.Output.Writer.TryWrite(Delta(sequence, choice, streamable, finished));
                }
            }
            if (!finished) continue;
            _choices.Remove(sequence);
            Metrics.EndToEndLatency.Observe(Stopwatch.GetElapsedTime(handle.SubmittedAt, now).TotalSeconds);
            if (--handle.Remaining == 0) Complete(handle);
        }
    }

    /// <summary>The output of a choice since its last event (allocates only what the event carries).</summary>
    private static GenerationEvent Delta(Sequence sequence, Choice choice, int streamable, bool finished)
    {
        string text = streamable > choice.SentChars ? sequence.TextRange(choice.SentChars, streamable) : "";
        int[] tokens = sequence.OutputIds[choice.SentTokens..].ToArray();
        GeneratedTokenLogprobs[]? logprobs = null;
        if (sequence.Logprobs is { } all)
        {
            logprobs = new GeneratedTokenLogprobs[all.Count - choice.SentTokens];
            for (int k = 0; k < logprobs.Length; k++) logprobs[k] = all[choice.SentTokens + k];
        }
        choice.SentChars = Math.Max(choice.SentChars, streamable);
        choice.SentTokens = sequence.OutputLength;
        return new GenerationEvent
        {
            Index = choice.Index,
            Text = text,
            TokenIds = tokens,
            Logprobs = logprobs,
            FinishReason = finished ? sequence.FinishReason : null,
            PromptTokens = sequence.PromptLength,
            CompletionTokens = sequence.OutputLength,
            CachedTokens = sequence.CachedTokens,
        };
    }

    private void UpdateGauges()
    {
        Volatile.Write(ref Metrics.Running, _engine.Scheduler.Running);
        Volatile.Write(ref Metrics.Waiting, _engine.Scheduler.Waiting);
        Volatile.Write(ref Metrics.KvUsedBlocks, _engine.Blocks.UsedBlocks);
        Volatile.Write(ref Metrics.Preemptions, _engine.Scheduler.Preemptions);
    }

    private void FailAll(string message)
    {
        var handles = _choices.Values.Select(c => c.Handle).Distinct().ToList();
        foreach (var sequence in _choices.Keys.ToList())
        {
            if (sequence.Status != SequenceStatus.Finished) _engine.Abort(sequence);
        }
        _choices.Clear();
        foreach (var handle in handles) Fail(handle, message, badRequest: false);
    }

    private static void Fail(GenerationHandle handle, string message, bool badRequest)
    {
        if (handle.Done) return;
        handle.Output.Writer.TryWrite(new GenerationEvent { Error = message, IsBadRequest = badRequest });
        Complete(handle);
    }

    private static void Complete(GenerationHandle handle)
    {
        handle.Done = true;
        handle.Output.Writer.TryComplete();
    }

    /// <summary>Stops the loop: running requests end with an error event; waits for the thread.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _inbox.Writer.TryComplete();
        _thread.Join();
        _stop.Dispose();
    }

    private readonly record struct Command(GenerationHandle Handle, bool Abort);

    private sealed class Choice(GenerationHandle handle, int index)
    {
        public GenerationHandle Handle => handle;
        public int Index => index;
        public int SentChars;
        public int SentTokens;
        public long LastTokenAt;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "An engine step failed; the running requests were failed")]
    private partial void LogStepFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The engine loop died")]
    private partial void LogLoopDied(Exception e);
}

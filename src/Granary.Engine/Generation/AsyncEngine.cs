using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Engine;

/// <summary>
/// Puts an <see cref="LlmEngine"/> (not thread-safe) behind a thread-safe, asynchronous front: one
/// dedicated thread owns the engine (<see cref="EngineThread"/>), takes submissions and cancellations from a
/// channel, runs <see cref="LlmEngine.StepAsync"/> while there is work and sleeps on the channel otherwise, and
/// writes each request's output to that request's own channel.
/// </summary>
public sealed partial class AsyncEngine : IDisposable
{
    private readonly LlmEngine _engine;
    private readonly AsyncEngineOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Command> _inbox = Channel.CreateUnbounded<Command>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<Sequence, Choice> _choices = new(ReferenceEqualityComparer.Instance);
    private readonly EngineThread _thread = new("granary-engine");
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();
    private int _queued;
    private volatile bool _stopped;

    public AsyncEngine(LlmEngine engine, AsyncEngineOptions? options = null, ILogger? logger = null)
    {
        _engine = engine;
        _options = options ?? new AsyncEngineOptions();
        _logger = logger ?? NullLogger.Instance;
        Metrics.KvTotalBlocks = engine.Blocks.TotalBlocks;
        _loop = _thread.Run(LoopAsync);
    }

    public ServingMetrics Metrics { get; } = new();

    /// <summary>Longest prompt plus output (read-only once the engine is built).</summary>
    public int MaxModelLength => _engine.MaxModelLength;

    /// <summary>False once the loop stopped (disposed, or died): the server is not ready.</summary>
    public bool IsRunning => !_stopped;

    /// <summary>
    /// Queues a request. Throws <see cref="QueueFullException"/> when the waiting queue is at its bound,
    /// <see cref="ArgumentException"/> for a malformed <see cref="GenerationRequest.Resume"/> (an entry for no
    /// choice or a second one for a choice; problems found once the engine thread reads the request, such as a
    /// bad prompt or resumed tokens, arrive as an error event with <see cref="GenerationEvent.IsBadRequest"/>) and <see cref="ObjectDisposedException"/> after shutdown. Cancelling
    /// <paramref name="cancellationToken"/> (or disposing the handle) aborts the request and frees its KV blocks.
    /// </summary>
    public GenerationHandle Submit(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(request.N, 1);
        if (request.Prompts.Count == 0) throw new ArgumentException("no prompt");
        var resume = request.ResumeByChoice();
        ObjectDisposedException.ThrowIf(_stopped, this);
        int toRun = resume is null ? request.Sequences : resume.Count(r => r is not { Finished: true });
        int waiting = Volatile.Read(ref _queued) + (int)Metrics.WaitingSequences;
        if (waiting + toRun > _options.MaxWaiting && waiting > 0) throw new QueueFullException(waiting);
        var submission = new Submission(request, resume, toRun);
        var handle = submission.Handle = new GenerationHandle(request, () => _inbox.Writer.TryWrite(new Command(submission, Abort: true)));
        Interlocked.Add(ref _queued, toRun);
        if (!_inbox.Writer.TryWrite(new Command(submission, Abort: false)))
        {
            Interlocked.Add(ref _queued, -toRun);
            throw new ObjectDisposedException(nameof(AsyncEngine));
        }
        // Linked only once queued: an abort must reach the engine thread after the submission it aborts.
        handle.CancelWhen(cancellationToken);
        return handle;
    }

    // Runs on the engine thread, continuations included (no ConfigureAwait(false) here: they must come back to it).
    private async Task LoopAsync()
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
                    // A span per step only while a tracer listens (StartActivity is null and free otherwise).
                    using var step = GranaryTelemetry.Source.StartActivity("granary.engine.step");
                    try
                    {
                        advanced = await _engine.StepAsync();
                        step?.SetTag("granary.sequences", advanced.Count);
                    }
                    catch (Exception e)
                    {
                        // One failed step must not take the server down: fail what runs and go on.
                        step?.SetStatus(ActivityStatusCode.Error, e.Message);
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
                    if (!await reader.WaitToReadAsync(_stop.Token)) break;
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
        var submission = command.Submission;
        if (command.Abort)
        {
            if (submission.Done) return;
            foreach (var sequence in submission.Sequences)
            {
                if (sequence.Status != SequenceStatus.Finished)
                {
                    _engine.Abort(sequence);
                    Interlocked.Increment(ref Metrics.Aborted);
                }
                _choices.Remove(sequence);
            }
            Complete(submission);
            return;
        }

        var request = submission.Request;
        Interlocked.Add(ref _queued, -submission.Queued);
        if (submission.Done) return;
        if (_stopped)
        {
            Fail(submission, "the server is shutting down", badRequest: false);
            return;
        }
        ChoiceResume? resume = null;
        try
        {
            for (int p = 0; p < request.Prompts.Count; p++)
            {
                for (int j = 0; j < request.N; j++)
                {
                    int index = p * request.N + j;
                    resume = submission.Resume?[index];
                    if (resume is { Finished: true }) continue; // the client has its whole answer: counts as done
                    // With a seed, each of the n choices still draws differently, reproducibly.
                    var sampling = j > 0 && request.Sampling.Seed is { } seed ? request.Sampling with { Seed = unchecked(seed + j) } : request.Sampling;
                    var sequence = _engine.Add(request.Prompts[p], sampling, resume?.GeneratedIds);
                    submission.Sequences.Add(sequence);
                    var choice = new Choice(submission, index);
                    if (resume is not null)
                    {
                        if (resume.SentChars > sequence.TextLength)
                            throw new ArgumentException($"sent_chars {resume.SentChars} is beyond the {sequence.TextLength} characters its {resume.GeneratedIds.Length} generated tokens decode to");
                        // Its events go on exactly after what the client already got.
                        choice.SentChars = resume.SentChars;
                        choice.SentTokens = sequence.ResumedLength;
                    }
                    _choices.Add(sequence, choice);
                    Interlocked.Add(ref Metrics.PromptTokens, sequence.PromptLength);
                }
            }
            resume = null;
        }
        catch (ArgumentException e)
        {
            foreach (var sequence in submission.Sequences)
            {
                _engine.Abort(sequence);
                _choices.Remove(sequence);
            }
            Fail(submission, resume is null ? e.Message : $"resume: choice {resume.Index}: {e.Message}", badRequest: true);
            return;
        }
        if (submission.Remaining == 0) Complete(submission);
    }

    private void Publish(IReadOnlyList<Sequence> advanced)
    {
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < advanced.Count; i++)
        {
            var sequence = advanced[i];
            if (!_choices.TryGetValue(sequence, out var choice)) continue;
            var submission = choice.Submission;
            Interlocked.Increment(ref Metrics.GenerationTokens);
            if (choice.LastTokenAt == 0)
            {
                Metrics.TimeToFirstToken.Observe(Stopwatch.GetElapsedTime(submission.SubmittedAt, now).TotalSeconds);
                if (sequence.CachedTokens > 0) Interlocked.Add(ref Metrics.CachedPromptTokens, sequence.CachedTokens);
            }
            else Metrics.TimePerOutputToken.Observe(Stopwatch.GetElapsedTime(choice.LastTokenAt, now).TotalSeconds);
            choice.LastTokenAt = now;

            bool finished = sequence.Status == SequenceStatus.Finished;
            if (submission.Request.Stream || finished)
            {
                int streamable = sequence.StreamableLength;
                if (streamable > choice.SentChars || finished)
                {
                    submission.Handle.Writer.TryWrite(Delta(sequence, choice, streamable, finished));
                }
            }
            if (!finished) continue;
            _choices.Remove(sequence);
            Metrics.EndToEndLatency.Observe(Stopwatch.GetElapsedTime(submission.SubmittedAt, now).TotalSeconds);
            if (--submission.Remaining == 0) Complete(submission);
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
        var submissions = _choices.Values.Select(c => c.Submission).Distinct().ToList();
        foreach (var sequence in _choices.Keys.ToList())
        {
            if (sequence.Status != SequenceStatus.Finished) _engine.Abort(sequence);
        }
        _choices.Clear();
        foreach (var submission in submissions) Fail(submission, message, badRequest: false);
    }

    private static void Fail(Submission submission, string message, bool badRequest)
    {
        if (submission.Done) return;
        submission.Handle.Writer.TryWrite(new GenerationEvent { Error = message, IsBadRequest = badRequest });
        Complete(submission);
    }

    private static void Complete(Submission submission)
    {
        submission.Done = true;
        submission.Handle.Writer.TryComplete();
    }

    /// <summary>Stops the loop: running requests end with an error event; waits for the thread.</summary>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _inbox.Writer.TryComplete();
        _loop.Wait(); // LoopAsync catches everything: it ends, it does not throw
        _thread.Dispose();
        _stop.Dispose();
        Metrics.Dispose();
    }

    private readonly record struct Command(Submission Submission, bool Abort);

    /// <summary>What the engine thread keeps of one submitted request (the handle is what the caller keeps).</summary>
    private sealed class Submission(GenerationRequest request, ChoiceResume?[]? resume, int remaining)
    {
        public GenerationRequest Request => request;
        /// <summary>Resume state by choice index, when the request resumes an interrupted one.</summary>
        public ChoiceResume?[]? Resume => resume;
        public GenerationHandle Handle { get; set; } = null!;
        /// <summary>Sequences it counts for in the queue bound until the engine thread takes it.</summary>
        public int Queued { get; } = remaining;
        public List<Sequence> Sequences { get; } = [];
        /// <summary>Choices still to finish (a choice resumed as finished never runs).</summary>
        public int Remaining = remaining;
        public long SubmittedAt { get; } = Stopwatch.GetTimestamp();
        /// <summary>Set by the engine thread once every sequence finished or was aborted.</summary>
        public bool Done;
    }

    private sealed class Choice(Submission submission, int index)
    {
        public Submission Submission => submission;
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

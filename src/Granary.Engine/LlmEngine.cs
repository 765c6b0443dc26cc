using Granary.Tokenizers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Engine;

/// <summary>
/// The step loop of one model replica: requests join a scheduler, and each <see cref="Step"/> runs one
/// batched forward pass and advances every scheduled sequence. Not thread-safe: one thread drives it.
/// </summary>
public sealed partial class LlmEngine : IDisposable
{
    private readonly IModelExecutor _executor;
    private readonly ITokenizer? _tokenizer;
    private readonly BlockManager _blocks;
    private readonly Scheduler _scheduler;
    private readonly ModelRunner _runner;
    private readonly HashSet<int> _eos;
    private readonly List<Sequence> _advanced = [];
    private readonly bool _asyncScheduling;
    // Whether a greedy continuation is launched before the step it continues is read (its tokens fed on the executor).
    private readonly bool _feedTokens;
    // The step launched and not yet read (async scheduling keeps one in flight between calls), and its launch.
    private LaunchedStep? _running;
    private ValueTask _launched;
    private readonly ILogger _logger;
    private long _nextId;

    public LlmEngine(IModelExecutor executor, ITokenizer? tokenizer, IEnumerable<int> eosTokenIds, EngineOptions options, ILogger? logger = null)
    {
        _executor = executor;
        _tokenizer = tokenizer;
        _logger = logger ?? NullLogger.Instance;
        _eos = [.. eosTokenIds];
        MaxModelLength = options.MaxModelLength > 0 ? Math.Min(options.MaxModelLength, executor.MaxPositions) : executor.MaxPositions;
        int blocks = options.KvCacheBlocks > 0 ? options.KvCacheBlocks : AutoBlocks(executor, options, MaxModelLength);
        if ((long)blocks * options.BlockSize < MaxModelLength)
        {
            // A sequence must always fit once the others are preempted, or it could never finish.
            LogContextCappedByCache(MaxModelLength, blocks * options.BlockSize);
            MaxModelLength = blocks * options.BlockSize;
        }
        executor.AllocateKvCache(blocks, options.BlockSize);
        _blocks = new BlockManager(blocks, options.BlockSize);
        _scheduler = new Scheduler(new SchedulerOptions { MaxSequences = options.MaxSequences, MaxBatchedTokens = Math.Min(options.MaxBatchedTokens, executor.MaxRows) }, _blocks);
        _runner = new ModelRunner(executor, options.BlockSize, options.MaxSequences, options.Seed);
        _asyncScheduling = options.AsyncScheduling;
        _feedTokens = options.FeedTokensOnDevice;
        LogKvCache(blocks, options.BlockSize, (long)blocks * options.BlockSize, executor.KvBytesPerToken * blocks * options.BlockSize / (1024.0 * 1024.0), MaxModelLength);
    }

    /// <summary>
    /// As many blocks as the memory budget allows, but no more than every sequence slot at full length
    /// could use: a small model should not reserve a gigabyte it can never fill.
    /// </summary>
    private static int AutoBlocks(IModelExecutor executor, EngineOptions options, int maxModelLength)
    {
        long byBudget = options.KvCacheBytes / Math.Max(1, executor.KvBytesPerToken * options.BlockSize);
        long byUse = (long)options.MaxSequences * ((maxModelLength + options.BlockSize - 1) / options.BlockSize);
        return (int)Math.Clamp(Math.Min(byBudget, byUse), 1, int.MaxValue / options.BlockSize);
    }

    /// <summary>Longest prompt plus output a sequence may reach.</summary>
    public int MaxModelLength { get; private set; }

    public BlockManager Blocks => _blocks;

    /// <summary>Steps launched with their tokens fed on the executor, before the step they continue was read (<see cref="EngineOptions.FeedTokensOnDevice"/>).</summary>
    public long FedSteps { get; private set; }
    public Scheduler Scheduler => _scheduler;
    /// <summary>Whether a sequence waits or runs, or a launched step is still to be read.</summary>
    public bool HasWork => _scheduler.HasWork || _running is not null;
    public ITokenizer? Tokenizer => _tokenizer;

    /// <summary>
    /// Copies the whole vocabulary's logits of one sampled row of the last step (rows in the order the step
    /// scheduled its sampling sequences) into <paramref name="destination"/>: tests and diagnostics read them.
    /// Throws while async scheduling has the next step in flight (its logits replace the last step's).
    /// </summary>
    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if (_running is not null)
            throw new InvalidOperationException("async scheduling already launched the next step, whose logits replace the last step's: turn EngineOptions.AsyncScheduling off to read a step's logits");
        _executor.ReadLogits(logitRow, destination);
    }

    /// <summary>Queues a request. Throws <see cref="ArgumentException"/> for a prompt that cannot run here.</summary>
    public Sequence Add(IReadOnlyList<int> promptIds, SamplingParams sampling) => Add(promptIds, sampling, null);

    /// <summary>
    /// Queues a request, or resumes one that another replica was answering when it failed: the output
    /// starts with <paramref name="generated"/> (the tokens already generated), which are computed with the
    /// prompt (as a preempted sequence recomputes), count towards <see cref="SamplingParams.MaxTokens"/>, and
    /// rebuild the text exactly as if they had been generated here, so <see cref="Sequence.Text"/> and stop
    /// strings that straddle the seam behave as in the uninterrupted run (for a seeded request too; greedy and
    /// seeded answers go on token for token). Their logprobs are placeholders (<see cref="Sequence.ResumedLength"/>).
    /// Throws <see cref="ArgumentException"/> for a prompt that cannot run here, or resumed tokens outside the
    /// vocabulary, too many for max_tokens or the context, or that already ended the output (a stop token or string).
    /// </summary>
    public Sequence Add(IReadOnlyList<int> promptIds, SamplingParams sampling, IReadOnlyList<int>? generated)
    {
        sampling.Validate();
        if (promptIds.Count == 0) throw new ArgumentException("the prompt is empty");
        if (promptIds.Count >= MaxModelLength)
            throw new ArgumentException($"the prompt has {promptIds.Count} tokens; this model's context is {MaxModelLength} tokens, prompt plus at least one generated token");
        foreach (int id in promptIds)
        {
            if ((uint)id >= (uint)_executor.VocabSize) throw new ArgumentException($"token id {id} is outside the vocabulary of {_executor.VocabSize}");
        }
        int resumed = generated?.Count ?? 0;
        if (resumed > 0)
        {
            if (resumed >= sampling.MaxTokens)
                throw new ArgumentException($"the resumed output has {resumed} tokens and max_tokens is {sampling.MaxTokens}: the request already finished");
            if (promptIds.Count + resumed >= MaxModelLength)
                throw new ArgumentException($"the prompt ({promptIds.Count} tokens) and the resumed output ({resumed} tokens) fill this model's context of {MaxModelLength} tokens: the request already finished");
            for (int i = 0; i < resumed; i++)
            {
                int id = generated![i];
                if ((uint)id >= (uint)_executor.VocabSize) throw new ArgumentException($"resumed token id {id} (output position {i}) is outside the vocabulary of {_executor.VocabSize}");
                if (IsStopToken(sampling, id)) throw new ArgumentException($"resumed token id {id} (output position {i}) is a stop token: the request already finished there");
            }
        }
        int length = promptIds.Count + resumed;
        if (_blocks.BlocksFor(length + 1) > _blocks.TotalBlocks)
            throw new ArgumentException($"the {(resumed > 0 ? "prompt and resumed output need" : "prompt needs")} {_blocks.BlocksFor(length + 1)} KV blocks; the cache has {_blocks.TotalBlocks}");
        var sequence = new Sequence(Interlocked.Increment(ref _nextId), promptIds, sampling, _tokenizer);
        if (resumed > 0 && sequence.Resume(generated!) is var stopped and >= 0)
            throw new ArgumentException($"the resumed output contains a stop string (at output position {stopped}): the request already finished there");
        _scheduler.Add(sequence);
        return sequence;
    }

    /// <summary>Ends a sequence early (a cancelled request) and frees its blocks.</summary>
    public void Abort(Sequence sequence) => _scheduler.Finish(sequence, FinishReason.Abort);

    /// <summary>
    /// Runs one forward step. Returns the sequences that got a token or finished this step; the list is
    /// reused by the next call. With async scheduling (<see cref="EngineOptions.AsyncScheduling"/>) a step
    /// may launch the next one before it returns (<see cref="HasWork"/> stays true until that one is read).
    /// </summary>
    public IReadOnlyList<Sequence> Step()
    {
        _advanced.Clear();
        try
        {
            if (_running is null)
            {
                if (Schedule() is not { } scheduled) return _advanced;
                _running = _runner.Prepare(scheduled);
                _runner.Launch(_running, null);
            }
            var step = _running;
            var next = Continue(step);
            bool fed = next is not null && _feedTokens && _runner.CanFeed(step);
            if (fed)
            {
                _runner.LaunchFed(next!, step);
                FedSteps++;
            }
            _runner.Collect(step);
            if (next is not null && !fed) _runner.Launch(next, step);
            _running = next;
            Advance(step);
        }
        catch
        {
            _running = null;
            throw;
        }
        return _advanced;
    }

    /// <summary><see cref="Step"/> for the serving loop: it awaits executors whose parts run in other processes.</summary>
    public async ValueTask<IReadOnlyList<Sequence>> StepAsync()
    {
        _advanced.Clear();
        try
        {
            if (_running is null)
            {
                if (Schedule() is not { } scheduled) return _advanced;
                _running = _runner.Prepare(scheduled);
                _launched = _runner.LaunchAsync(_running, null);
            }
            var step = _running;
            var next = Continue(step);
            var launched = _launched;
            _launched = default;
            await launched;
            bool fed = next is not null && _feedTokens && _runner.CanFeed(step);
            if (fed)
            {
                _launched = _runner.LaunchFedAsync(next!, step);
                FedSteps++;
            }
            _runner.Collect(step);
            if (next is not null && !fed) _launched = _runner.LaunchAsync(next, step);
            _running = next;
            Advance(step);
        }
        catch
        {
            _running = null;
            _launched = default;
            throw;
        }
        return _advanced;
    }

    /// <summary>The next step's sequences, or null when there is none.</summary>
    private IReadOnlyList<ScheduledSequence>? Schedule()
    {
        var step = _scheduler.Schedule();
        if (step.Count > 0) return step;
        if (_scheduler.HasWork) throw new InvalidOperationException("no sequence fits in the KV cache");
        return null;
    }

    /// <summary>
    /// With async scheduling: lays out the step after <paramref name="running"/> while the executor runs it, when it is
    /// plain decode continuation (<see cref="Scheduler.Continue"/>); null when the next step must wait for its tokens.
    /// </summary>
    private LaunchedStep? Continue(LaunchedStep running)
    {
        if (!_asyncScheduling) return null;
        var next = _runner.Free(running);
        if (!_scheduler.Continue(running, next, MaxModelLength)) return null;
        _runner.Layout(next);
        return next;
    }

    /// <summary>Appends a collected step's tokens: stop checks, detokenizing, finishing.</summary>
    private void Advance(LaunchedStep step)
    {
        for (int s = 0; s < step.Count; s++)
        {
            if (step.Sampled[s] >= 0) OnToken(step.Sequences[s], step.Sampled[s], step.Logprobs[s]);
        }
    }

    /// <summary>Runs the given requests to completion (one process, no server): the CLI and tests use it.</summary>
    public void RunToCompletion(CancellationToken cancellationToken = default)
    {
        while (HasWork)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Step();
        }
    }

    private void OnToken(Sequence sequence, int token, GeneratedTokenLogprobs? logprobs)
    {
        bool stopString = sequence.Append(token, logprobs);
        var p = sequence.Sampling;
        FinishReason? reason = null;
        if (stopString || IsStopToken(p, token)) reason = FinishReason.Stop;
        else if (sequence.OutputLength >= p.MaxTokens || sequence.Length >= MaxModelLength) reason = FinishReason.Length;
        if (reason is { } r) _scheduler.Finish(sequence, r);
        _advanced.Add(sequence);
    }

    /// <summary>Whether the token ends the output (an end-of-sequence id unless ignored, or one of the request's stop ids).</summary>
    private bool IsStopToken(SamplingParams p, int token) => !p.IgnoreEos && _eos.Contains(token) || p.StopTokenIds.Contains(token);

    public void Dispose() => _executor.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The KV cache holds {Slots} tokens, less than the max model length {MaxModelLength}: sequences are capped at {Slots} tokens; give the cache more memory for longer ones")]
    private partial void LogContextCappedByCache(int maxModelLength, int slots);

    [LoggerMessage(Level = LogLevel.Information, Message = "KV cache: {Blocks} blocks of {BlockSize} tokens = {Tokens} token slots ({MiB:F1} MiB); max model length {MaxModelLength}")]
    private partial void LogKvCache(int blocks, int blockSize, long tokens, double miB, int maxModelLength);
}

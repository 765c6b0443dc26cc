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
    private readonly Action<Sequence, int, GeneratedTokenLogprobs?> _onToken;
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
        _onToken = OnToken;
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
    public Scheduler Scheduler => _scheduler;
    public bool HasWork => _scheduler.HasWork;
    public ITokenizer? Tokenizer => _tokenizer;

    /// <summary>
    /// Copies the whole vocabulary's logits of one sampled row of the last step (rows in the order the step
    /// scheduled its sampling sequences) into <paramref name="destination"/>: tests and diagnostics read them.
    /// </summary>
    public void ReadLogits(int logitRow, Span<float> destination) => _executor.ReadLogits(logitRow, destination);

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
    /// reused by the next call.
    /// </summary>
    public IReadOnlyList<Sequence> Step()
    {
        if (Schedule() is { } step) _runner.Run(step, _onToken);
        return _advanced;
    }

    /// <summary><see cref="Step"/> for the serving loop: it awaits executors whose parts run in other processes.</summary>
    public async ValueTask<IReadOnlyList<Sequence>> StepAsync()
    {
        if (Schedule() is { } step) await _runner.RunAsync(step, _onToken);
        return _advanced;
    }

    /// <summary>The next step's sequences, or null when there is none.</summary>
    private IReadOnlyList<ScheduledSequence>? Schedule()
    {
        _advanced.Clear();
        var step = _scheduler.Schedule();
        if (step.Count > 0) return step;
        if (_scheduler.HasWork) throw new InvalidOperationException("no sequence fits in the KV cache");
        return null;
    }

    /// <summary>Runs the given requests to completion (one process, no server): the CLI and tests use it.</summary>
    public void RunToCompletion(CancellationToken cancellationToken = default)
    {
        while (_scheduler.HasWork)
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

using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// Turns a step's sequences into the batch layout (token ids, positions, KV slots, block tables), launches it on
/// the executor, and once it ran samples a token for every sequence that reached its end. It keeps two steps and
/// alternates between them, so that with async scheduling the next step is laid out while the last one runs.
/// </summary>
internal sealed class ModelRunner
{
    private readonly IModelExecutor _executor;
    private readonly int _blockSize;
    private readonly LaunchedStep[] _steps;
    private readonly Sampler _sampler;
    private readonly float[] _logits;
    private readonly int[] _topIds;
    private readonly float[] _topValues;
    private readonly float[] _logSumExp;

    public ModelRunner(IModelExecutor executor, int blockSize, int maxSequences, int? seed)
    {
        _executor = executor;
        _blockSize = blockSize;
        int maxBlocks = (executor.MaxPositions + blockSize - 1) / blockSize;
        _steps = [new LaunchedStep(executor.MaxRows, maxSequences, maxBlocks), new LaunchedStep(executor.MaxRows, maxSequences, maxBlocks)];
        _sampler = new Sampler(executor.VocabSize, seed);
        _logits = new float[executor.VocabSize];
        _topIds = new int[maxSequences * TopLogits.MaxK];
        _topValues = new float[maxSequences * TopLogits.MaxK];
        _logSumExp = new float[maxSequences];
    }

    /// <summary>The step that is not <paramref name="running"/> (the one launched and not yet collected), to lay out the next in.</summary>
    public LaunchedStep Free(LaunchedStep? running) => ReferenceEquals(running, _steps[0]) ? _steps[1] : _steps[0];

    /// <summary>Lays out the scheduler's choice (every token id known) in a free step.</summary>
    public LaunchedStep Prepare(IReadOnlyList<ScheduledSequence> scheduled)
    {
        var step = Free(null);
        step.Clear(continuation: false);
        for (int s = 0; s < scheduled.Count; s++) step.Add(scheduled[s].Sequence, scheduled[s].Tokens, scheduled[s].Samples);
        Layout(step);
        return step;
    }

    /// <summary>
    /// Fills the step's batch layout. A continuation's rows compute the token its previous step is sampling (the one
    /// after each sequence's tokens so far); their ids are written at launch (<see cref="Launch"/>).
    /// </summary>
    public void Layout(LaunchedStep step)
    {
        var b = step.Batch;
        b.FeedsTokens = false;
        int row = 0, logitRows = 0, k = 0;
        bool whole = false;
        for (int s = 0; s < step.Count; s++)
        {
            var sequence = step.Sequences[s];
            int count = step.Tokens[s], start = step.Continuation ? sequence.Length : sequence.ComputedLength;
            var tokens = sequence.Tokens;
            var blocks = sequence.Blocks;
            for (int t = 0; t < count; t++, row++)
            {
                int position = start + t;
                b.TokenIds[row] = step.Continuation ? 0 : tokens[position];
                b.Positions[row] = position;
                b.SlotMapping[row] = blocks[position / _blockSize] * _blockSize + position % _blockSize;
                b.RowSequence[row] = s;
            }
            var table = b.BlockTables.AsSpan(s * b.MaxBlocksPerSequence, b.MaxBlocksPerSequence);
            for (int i = 0; i < blocks.Count; i++) table[i] = blocks[i];
            if (!step.Samples[s]) continue;
            b.LogitRows[logitRows++] = row - 1;
            // Rows whose sampling needs only the largest logits take them from the executor (on a GPU only
            // k values a row cross to the host); the others read their whole row.
            int needed = Sampler.CandidatesNeeded(sequence.Sampling);
            k = Math.Max(k, needed);
            whole |= needed < 0;
        }
        b.Commit(row, step.Count, logitRows);
        b.SampleCandidates = whole ? -1 : k;
        step.Candidates = k;
    }

    /// <summary>Launches a laid-out step; a continuation first takes the tokens <paramref name="previous"/> sampled.</summary>
    public void Launch(LaunchedStep step, LaunchedStep? previous)
    {
        WriteContinuedTokens(step, previous);
        _executor.Execute(step.Batch);
    }

    /// <summary><see cref="Launch"/> through <see cref="IModelExecutor.ExecuteAsync"/>: the serving loop's step.</summary>
    public ValueTask LaunchAsync(LaunchedStep step, LaunchedStep? previous)
    {
        WriteContinuedTokens(step, previous);
        return _executor.ExecuteAsync(step.Batch);
    }

    /// <summary>
    /// Whether a continuation of <paramref name="previous"/> can take its tokens on the executor (<see cref="LaunchFed"/>):
    /// every sequence of it that samples decodes greedily from the candidates, so its token is its row's best one.
    /// </summary>
    public bool CanFeed(LaunchedStep previous)
    {
        if (!_executor.FeedsTokens || previous.Candidates <= 0) return false;
        for (int s = 0; s < previous.Count; s++)
        {
            var p = previous.Sequences[s].Sampling;
            if (previous.Samples[s] && (!Sampler.IsGreedy(p) || Sampler.CandidatesNeeded(p) <= 0)) return false;
        }
        return true;
    }

    /// <summary>
    /// Launches a continuation before <paramref name="previous"/> is collected: each row's token is its sequence's best
    /// candidate in <paramref name="previous"/>, taken on the executor (<see cref="BatchLayout.FeedsTokens"/>).
    /// </summary>
    public void LaunchFed(LaunchedStep step, LaunchedStep previous)
    {
        SetTokenSources(step, previous);
        _executor.Execute(step.Batch);
    }

    /// <summary><see cref="LaunchFed"/> through <see cref="IModelExecutor.ExecuteAsync"/>.</summary>
    public ValueTask LaunchFedAsync(LaunchedStep step, LaunchedStep previous)
    {
        SetTokenSources(step, previous);
        return _executor.ExecuteAsync(step.Batch);
    }

    private static void SetTokenSources(LaunchedStep step, LaunchedStep previous)
    {
        if (!step.Continuation) throw new InvalidOperationException("only a continuation takes its tokens from the step before it");
        var b = step.Batch;
        // A continuation's rows follow the previous step's sequences in order, so one pass counts the logit rows before each.
        int source = 0, logitRow = 0;
        for (int s = 0; s < step.Count; s++)
        {
            for (; source < step.Source[s]; source++) if (previous.Samples[source]) logitRow++;
            b.TokenSources[s] = logitRow;
        }
        b.FeedsTokens = true;
        b.Commit(b.Rows, b.Sequences, b.LogitRowCount);
    }

    private static void WriteContinuedTokens(LaunchedStep step, LaunchedStep? previous)
    {
        if (!step.Continuation) return;
        var b = step.Batch;
        b.FeedsTokens = false;
        // One row a sequence; a sequence that got no token (it finished meanwhile) computes any id: its token is dropped.
        for (int s = 0; s < step.Count; s++) b.TokenIds[s] = Math.Max(0, previous!.Sampled[step.Source[s]]);
        b.Commit(b.Rows, b.Sequences, b.LogitRowCount);
    }

    /// <summary>
    /// Reads a launched step's results: counts its tokens as computed and samples a token for each sequence that
    /// samples (<see cref="LaunchedStep.Sampled"/>), except for a sequence that finished or was aborted since the
    /// step was laid out, which gets nothing.
    /// </summary>
    public void Collect(LaunchedStep step)
    {
        int k = step.Candidates;
        if (k > 0) _executor.TopLogits(k, _topIds, _topValues, _logSumExp);

        int logitRow = 0;
        for (int s = 0; s < step.Count; s++)
        {
            var sequence = step.Sequences[s];
            int row = step.Samples[s] ? logitRow++ : -1;
            if (sequence.Status != SequenceStatus.Running) continue;
            sequence.ComputedLength += step.Tokens[s];
            if (row < 0) continue;
            int token;
            GeneratedTokenLogprobs? logprobs;
            if (Sampler.CandidatesNeeded(sequence.Sampling) is > 0 and var needed && needed <= k)
                token = _sampler.Sample(sequence, _topIds.AsSpan(row * k, k), _topValues.AsSpan(row * k, k), _logSumExp[row], out logprobs);
            else
            {
                _executor.ReadLogits(row, _logits);
                token = _sampler.Sample(sequence, _logits, out logprobs);
            }
            step.Sampled[s] = token;
            step.Logprobs[s] = logprobs;
        }
    }
}

using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// Turns a step's scheduled sequences into the batch layout (token ids, positions, KV slots, block tables),
/// runs the executor and samples a token for every sequence that reached its end.
/// </summary>
public sealed class ModelRunner
{
    private readonly IModelExecutor _executor;
    private readonly int _blockSize;
    private readonly BatchLayout _batch;
    private readonly Sampler _sampler;
    private readonly float[] _logits;
    private readonly int[] _topIds;
    private readonly float[] _topValues;
    private readonly float[] _logSumExp;

    public ModelRunner(IModelExecutor executor, int blockSize, int maxSequences, int? seed)
    {
        _executor = executor;
        _blockSize = blockSize;
        _batch = new BatchLayout(executor.MaxRows, maxSequences, (executor.MaxPositions + blockSize - 1) / blockSize);
        _sampler = new Sampler(executor.VocabSize, seed);
        _logits = new float[executor.VocabSize];
        _topIds = new int[maxSequences * TopLogits.MaxK];
        _topValues = new float[maxSequences * TopLogits.MaxK];
        _logSumExp = new float[maxSequences];
    }

    /// <summary>Runs one step. For each scheduled sequence that samples, calls <paramref name="onToken"/>.</summary>
    public void Run(IReadOnlyList<ScheduledSequence> step, Action<Sequence, int, GeneratedTokenLogprobs?> onToken)
    {
        int k = Prepare(step);
        _executor.Execute(_batch);
        Sample(step, k, onToken);
    }

    /// <summary><see cref="Run"/> through <see cref="IModelExecutor.ExecuteAsync"/>: the serving loop's step.</summary>
    public async ValueTask RunAsync(IReadOnlyList<ScheduledSequence> step, Action<Sequence, int, GeneratedTokenLogprobs?> onToken)
    {
        int k = Prepare(step);
        await _executor.ExecuteAsync(_batch);
        Sample(step, k, onToken);
    }

    /// <summary>Fills the batch layout; returns how many of the largest logits sampling reads (0: none, -1 marks whole rows).</summary>
    private int Prepare(IReadOnlyList<ScheduledSequence> step)
    {
        var b = _batch;
        int row = 0, logitRows = 0;
        for (int s = 0; s < step.Count; s++)
        {
            var (sequence, count) = (step[s].Sequence, step[s].Tokens);
            var tokens = sequence.Tokens;
            var blocks = sequence.Blocks;
            for (int t = 0; t < count; t++, row++)
            {
                int position = sequence.ComputedLength + t;
                b.TokenIds[row] = tokens[position];
                b.Positions[row] = position;
                b.SlotMapping[row] = blocks[position / _blockSize] * _blockSize + position % _blockSize;
                b.RowSequence[row] = s;
            }
            var table = b.BlockTables.AsSpan(s * b.MaxBlocksPerSequence, b.MaxBlocksPerSequence);
            for (int i = 0; i < blocks.Count; i++) table[i] = blocks[i];
            if (step[s].Samples) b.LogitRows[logitRows++] = row - 1;
        }
        b.Commit(row, step.Count, logitRows);

        // Rows whose sampling needs only the largest logits take them from the executor (on a GPU only
        // k values a row cross to the host); the others read their whole row.
        int k = 0;
        bool whole = false;
        for (int s = 0; s < step.Count; s++)
        {
            if (!step[s].Samples) continue;
            int needed = Sampler.CandidatesNeeded(step[s].Sequence.Sampling);
            k = Math.Max(k, needed);
            whole |= needed < 0;
        }
        b.SampleCandidates = whole ? -1 : k;
        return k;
    }

    private void Sample(IReadOnlyList<ScheduledSequence> step, int k, Action<Sequence, int, GeneratedTokenLogprobs?> onToken)
    {
        if (k > 0) _executor.TopLogits(k, _topIds, _topValues, _logSumExp);

        int logitRow = 0;
        for (int s = 0; s < step.Count; s++)
        {
            var scheduled = step[s];
            var sequence = scheduled.Sequence;
            bool samples = scheduled.Samples; // before the tokens count as computed
            sequence.ComputedLength += scheduled.Tokens;
            if (!samples) continue;
            int token;
            GeneratedTokenLogprobs? logprobs;
            if (Sampler.CandidatesNeeded(sequence.Sampling) is > 0 and var needed && needed <= k)
                token = _sampler.Sample(sequence, _topIds.AsSpan(logitRow * k, k), _topValues.AsSpan(logitRow * k, k), _logSumExp[logitRow], out logprobs);
            else
            {
                _executor.ReadLogits(logitRow, _logits);
                token = _sampler.Sample(sequence, _logits, out logprobs);
            }
            logitRow++;
            onToken(sequence, token, logprobs);
        }
    }
}

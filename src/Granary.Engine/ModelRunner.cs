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

    public ModelRunner(IModelExecutor executor, int blockSize, int maxSequences, int? seed)
    {
        _executor = executor;
        _blockSize = blockSize;
        _batch = new BatchLayout(executor.MaxRows, maxSequences, (executor.MaxPositions + blockSize - 1) / blockSize);
        _sampler = new Sampler(executor.VocabSize, seed);
        _logits = new float[executor.VocabSize];
    }

    /// <summary>Logits of the most recent sampled row (tests and diagnostics read them).</summary>
    public ReadOnlySpan<float> LastLogits => _logits;

    /// <summary>Runs one step. For each scheduled sequence that samples, calls <paramref name="onToken"/>.</summary>
    public void Run(IReadOnlyList<ScheduledSequence> step, Action<Sequence, int, GeneratedTokenLogprobs?> onToken)
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
        _executor.Execute(b);

        int logitRow = 0;
        for (int s = 0; s < step.Count; s++)
        {
            var scheduled = step[s];
            bool samples = scheduled.Samples;
            scheduled.Sequence.ComputedLength += scheduled.Tokens;
            if (!samples) continue;
            _executor.ReadLogits(logitRow++, _logits);
            int token = _sampler.Sample(scheduled.Sequence, _logits, out var logprobs);
            onToken(scheduled.Sequence, token, logprobs);
        }
    }
}

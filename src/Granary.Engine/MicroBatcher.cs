using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// Splits a step into micro-batches of whole sequences (balanced by rows) so that pipeline stages
/// overlap: stage 0 starts micro-batch 2 while stage 1 runs micro-batch 1. Every rank splits the same
/// layout the same way, so no extra message is needed. The layouts are reused from step to step.
/// </summary>
internal sealed class MicroBatcher
{
    private readonly List<BatchLayout> _parts = [];
    private readonly List<BatchLayout> _result = [];
    private int[] _sequenceStart = [];

    /// <summary>At most <paramref name="count"/> micro-batches of <paramref name="batch"/>, in order (just the batch when it cannot split).</summary>
    public IReadOnlyList<BatchLayout> Split(BatchLayout batch, int count)
    {
        _result.Clear();
        int sequences = batch.Sequences, rows = batch.Rows;
        count = Math.Min(count, sequences);
        if (count <= 1 || !RowsGroupedBySequence(batch))
        {
            _result.Add(batch);
            return _result;
        }
        int first = 0;
        for (int part = 0; part < count; part++)
        {
            // Cut where the rows reach this part's share, leaving one sequence at least for each later part.
            int end = first + 1;
            long target = (long)rows * (part + 1) / count;
            while (end < sequences - (count - part - 1) && _sequenceStart[end] < target) end++;
            if (part == count - 1) end = sequences;
            _result.Add(Fill(part, batch, first, end));
            first = end;
        }
        return _result;
    }

    private bool RowsGroupedBySequence(BatchLayout batch)
    {
        if (_sequenceStart.Length < batch.Sequences + 1) _sequenceStart = new int[batch.Sequences + 1];
        int expected = 0;
        for (int r = 0; r < batch.Rows; r++)
        {
            int s = batch.RowSequence[r];
            if (s == expected) _sequenceStart[expected++] = r;
            else if (s != expected - 1) return false;
        }
        if (expected != batch.Sequences) return false;
        _sequenceStart[expected] = batch.Rows;
        return true;
    }

    private BatchLayout Fill(int index, BatchLayout batch, int firstSequence, int endSequence)
    {
        int maxBlocks = batch.MaxBlocksPerSequence, maxSequences = batch.BlockTables.Length / maxBlocks;
        if (index == _parts.Count || _parts[index].MaxRows < batch.MaxRows || _parts[index].MaxBlocksPerSequence != maxBlocks || _parts[index].BlockTables.Length < batch.BlockTables.Length)
        {
            var layout = new BatchLayout(batch.MaxRows, maxSequences, maxBlocks);
            if (index == _parts.Count) _parts.Add(layout);
            else _parts[index] = layout;
        }
        var part = _parts[index];
        int r0 = _sequenceStart[firstSequence], r1 = _sequenceStart[endSequence], rows = r1 - r0;
        batch.TokenIds.AsSpan(r0, rows).CopyTo(part.TokenIds);
        batch.Positions.AsSpan(r0, rows).CopyTo(part.Positions);
        batch.SlotMapping.AsSpan(r0, rows).CopyTo(part.SlotMapping);
        for (int r = 0; r < rows; r++) part.RowSequence[r] = batch.RowSequence[r0 + r] - firstSequence;
        batch.BlockTables.AsSpan(firstSequence * maxBlocks, (endSequence - firstSequence) * maxBlocks).CopyTo(part.BlockTables);
        int logits = 0;
        for (int i = 0; i < batch.LogitRowCount; i++)
        {
            int row = batch.LogitRows[i];
            if (row >= r0 && row < r1) part.LogitRows[logits++] = row - r0;
        }
        part.Commit(rows, endSequence - firstSequence, logits);
        return part;
    }
}

using Granary.Compute;
using Granary.Engine;

namespace Granary.Parallel.Tests;

/// <summary>Micro-batches for pipeline overlap: whole sequences, balanced by rows, logit rows kept in order.</summary>
public class MicroBatcherTests
{
    [Fact]
    public void SplitsWholeSequencesBalancedByRows()
    {
        // Sequences of 5, 1, 1, 3 rows; every sequence samples its last row.
        int[] lengths = [5, 1, 1, 3];
        var batch = new BatchLayout(16, 4, 2);
        int row = 0;
        for (int s = 0; s < lengths.Length; s++)
        {
            for (int t = 0; t < lengths[s]; t++, row++)
            {
                batch.TokenIds[row] = 100 + row;
                batch.Positions[row] = t;
                batch.SlotMapping[row] = s * 8 + t;
                batch.RowSequence[row] = s;
            }
            batch.BlockTables[s * 2] = s;
            batch.LogitRows[s] = row - 1;
        }
        batch.Commit(row, 4, 4);

        var parts = new MicroBatcher().Split(batch, 2);
        Assert.Equal(2, parts.Count);
        Assert.Equal((5, 1, 1), (parts[0].Rows, parts[0].Sequences, parts[0].LogitRowCount));
        Assert.Equal((5, 3, 3), (parts[1].Rows, parts[1].Sequences, parts[1].LogitRowCount));
        Assert.Equal([105, 106, 107, 108, 109], parts[1].TokenIds[..5]);
        Assert.Equal([0, 1, 2, 2, 2], parts[1].RowSequence[..5]);
        Assert.Equal([0, 1, 4], parts[1].LogitRows[..3]);
        Assert.Equal(3, parts[1].BlockTable(2)[0]);
        Assert.Single(new MicroBatcher().Split(batch, 1));
    }
}

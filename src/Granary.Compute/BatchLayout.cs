namespace Granary.Compute;

/// <summary>
/// Where the rows of one forward step come from: for every row (token) its id, its position in its
/// sequence, its KV cache slot and its sequence; for every sequence its block table. The model runner
/// fills one per step (reusing the arrays) and every backend op of that step reads it; a backend that
/// keeps its own copy (CUDA) uploads it once per <see cref="Version"/>.
/// </summary>
public sealed class BatchLayout
{
    public BatchLayout(int maxRows, int maxSequences, int maxBlocksPerSequence)
    {
        TokenIds = new int[maxRows];
        Positions = new int[maxRows];
        SlotMapping = new int[maxRows];
        RowSequence = new int[maxRows];
        LogitRows = new int[maxRows];
        TokenSources = new int[maxRows];
        BlockTables = new int[maxSequences * maxBlocksPerSequence];
        MaxBlocksPerSequence = maxBlocksPerSequence;
    }

    /// <summary>Rows (tokens) in this step.</summary>
    public int Rows { get; private set; }

    /// <summary>Sequences in this step.</summary>
    public int Sequences { get; private set; }

    /// <summary>Rows whose logits are wanted (the last row of each sequence that samples), count in <see cref="LogitRowCount"/>.</summary>
    public int LogitRowCount { get; private set; }

    /// <summary>
    /// What sampling will read after the step: k &gt; 0 for the k largest logits of every logit row
    /// (<see cref="IBackend.TopK"/>), -1 when some row needs its whole vocabulary, 0 when nothing samples.
    /// An executor whose logits live elsewhere (another process) fetches just that much.
    /// </summary>
    public int SampleCandidates { get; set; }

    /// <summary>Bumped by <see cref="Commit"/>; lets a backend skip re-uploading an unchanged layout.</summary>
    public long Version { get; private set; }

    public int[] TokenIds { get; }
    public int[] Positions { get; }
    /// <summary>KV cache slot of each row: block * blockSize + offset.</summary>
    public int[] SlotMapping { get; }
    /// <summary>Index (into the block tables) of each row's sequence.</summary>
    public int[] RowSequence { get; }
    public int[] LogitRows { get; }

    /// <summary>
    /// When true, row r's token id is not <see cref="TokenIds"/>[r] but the best candidate (the first id) of logit row
    /// <see cref="TokenSources"/>[r] of the last <see cref="IBackend.BeginTopK"/> issued before this step: the token a
    /// greedy step just chose, fed to the next step on the device, so that the host launches that step before it reads
    /// the tokens back (async scheduling).
    /// </summary>
    public bool FeedsTokens { get; set; }

    /// <summary>For a batch that <see cref="FeedsTokens"/>: each row's logit row of the last top-k.</summary>
    public int[] TokenSources { get; }
    /// <summary>Block tables, <see cref="MaxBlocksPerSequence"/> entries per sequence.</summary>
    public int[] BlockTables { get; }
    public int MaxBlocksPerSequence { get; }

    public int MaxRows => TokenIds.Length;

    /// <summary>Records the counts once the arrays are filled.</summary>
    public void Commit(int rows, int sequences, int logitRowCount)
    {
        if ((uint)rows > (uint)MaxRows) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"at most {MaxRows} rows per step");
        if ((uint)sequences * MaxBlocksPerSequence > (uint)BlockTables.Length) throw new ArgumentOutOfRangeException(nameof(sequences), sequences, "too many sequences for the block tables");
        if ((uint)logitRowCount > (uint)rows) throw new ArgumentOutOfRangeException(nameof(logitRowCount));
        Rows = rows;
        Sequences = sequences;
        LogitRowCount = logitRowCount;
        Version++;
    }

    public ReadOnlySpan<int> BlockTable(int sequence) => BlockTables.AsSpan(sequence * MaxBlocksPerSequence, MaxBlocksPerSequence);
}

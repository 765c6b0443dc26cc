using Granary.Compute;

namespace Granary.Engine.Tests;

/// <summary>
/// A model executor without a model, for tests of the step loop: the next token of a row is a fixed function of its
/// token id and position (so greedy outputs do not depend on how sequences are batched), and every launch is counted
/// and reported to <see cref="Launched"/> as it happens.
/// </summary>
internal sealed class CountingExecutor(int vocabSize = 50, int maxRows = 64, int maxPositions = 256) : IModelExecutor
{
    private int[] _next = [];
    private int _logitRows;

    public int VocabSize => vocabSize;
    public int MaxRows => maxRows;
    public int MaxPositions => maxPositions;
    public long KvBytesPerToken => 4;

    /// <summary>Steps launched so far.</summary>
    public int Launches { get; private set; }

    /// <summary>Told of every launch, before it runs.</summary>
    public Action<BatchLayout>? Launched { get; set; }

    public static int NextToken(int token, int position, int vocabSize) => (31 * token + 7 * position + 3) % vocabSize;

    public void AllocateKvCache(int blocks, int blockSize) { }

    public void Execute(BatchLayout batch)
    {
        Launches++;
        Launched?.Invoke(batch);
        if (_next.Length < batch.LogitRowCount) _next = new int[batch.MaxRows];
        _logitRows = batch.LogitRowCount;
        for (int i = 0; i < batch.LogitRowCount; i++)
        {
            int row = batch.LogitRows[i];
            _next[i] = NextToken(batch.TokenIds[row], batch.Positions[row], vocabSize);
        }
    }

    /// <summary>When set, what <see cref="ExecuteAsync"/> returns after the step ran: a task standing for the device still at work.</summary>
    public Func<Task>? Device { get; set; }

    public ValueTask ExecuteAsync(BatchLayout batch)
    {
        Execute(batch);
        return Device is { } device ? new ValueTask(device()) : ValueTask.CompletedTask;
    }

    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if ((uint)logitRow >= (uint)_logitRows) throw new ArgumentOutOfRangeException(nameof(logitRow));
        for (int i = 0; i < destination.Length; i++) destination[i] = -(i % 7) - 1;
        destination[_next[logitRow]] = 5;
    }

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        for (int r = 0; r < _logitRows; r++)
        {
            for (int j = 0; j < k; j++)
            {
                ids[r * k + j] = (_next[r] + j) % vocabSize;
                values[r * k + j] = 5 - j;
            }
            logSumExp[r] = 6;
        }
    }

    public void Dispose() { }
}

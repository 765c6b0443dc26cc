using Granary.Compute;

namespace Granary.Engine.Tests;

/// <summary>
/// A model executor without a model, for tests of the step loop: the next token of a row is a fixed function of its
/// token id and position (so greedy outputs do not depend on how sequences are batched), and every launch is counted
/// and reported to <see cref="Launched"/> as it happens.
/// </summary>
internal sealed class CountingExecutor(int vocabSize = 50, int maxRows = 64, int maxPositions = 256, bool feedsTokens = false) : IModelExecutor
{
    // Each step's next tokens by logit row: the last step's, and the one before it while a step fed from it runs.
    private readonly Queue<int[]> _unread = new();
    private int[] _last = [];

    public int VocabSize => vocabSize;
    public int MaxRows => maxRows;
    public int MaxPositions => maxPositions;
    public long KvBytesPerToken => 4;
    public bool FeedsTokens => feedsTokens;

    /// <summary>Steps launched so far.</summary>
    public int Launches { get; private set; }

    /// <summary>Steps launched with their tokens fed from the step before (<see cref="BatchLayout.FeedsTokens"/>).</summary>
    public int FedLaunches { get; private set; }

    /// <summary>Told of every launch, before it runs.</summary>
    public Action<BatchLayout>? Launched { get; set; }

    public static int NextToken(int token, int position, int vocabSize) => (31 * token + 7 * position + 3) % vocabSize;

    public void AllocateKvCache(int blocks, int blockSize) { }

    public void Execute(BatchLayout batch)
    {
        Launches++;
        Launched?.Invoke(batch);
        if (batch.FeedsTokens)
        {
            if (!feedsTokens) throw new InvalidOperationException("this executor was not asked to feed tokens");
            FedLaunches++;
        }
        else _unread.Clear();
        var next = new int[batch.LogitRowCount];
        for (int i = 0; i < batch.LogitRowCount; i++)
        {
            int row = batch.LogitRows[i];
            int token = batch.FeedsTokens ? _last[batch.TokenSources[row]] : batch.TokenIds[row];
            next[i] = NextToken(token, batch.Positions[row], vocabSize);
        }
        if (_unread.Count == 2) _unread.Dequeue();
        _unread.Enqueue(next);
        _last = next;
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
        var next = _unread.Peek();
        if ((uint)logitRow >= (uint)next.Length) throw new ArgumentOutOfRangeException(nameof(logitRow));
        for (int i = 0; i < destination.Length; i++) destination[i] = -(i % 7) - 1;
        destination[next[logitRow]] = 5;
    }

    /// <remarks>With a step fed from the last one in flight, the last one's results, once.</remarks>
    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        var next = _unread.Count == 2 ? _unread.Dequeue() : _unread.Peek();
        for (int r = 0; r < next.Length; r++)
        {
            for (int j = 0; j < k; j++)
            {
                ids[r * k + j] = (next[r] + j) % vocabSize;
                values[r * k + j] = 5 - j;
            }
            logSumExp[r] = 6;
        }
    }

    public void Dispose() { }
}

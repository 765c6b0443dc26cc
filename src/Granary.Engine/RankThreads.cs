using Granary.Compute;

namespace Granary.Engine;

/// <summary>
/// Runs the steps of several ranks of one group that live in this process, concurrently (their collectives
/// wait for each other): the first rank on the caller's thread, each other one on a thread of its own. A
/// rank that fails aborts the group through <c>abort</c>, so that every rank ends the step with an exception
/// naming it instead of waiting, and the step throws the root cause.
/// </summary>
public sealed class RankThreads : IDisposable
{
    private readonly RankShard[] _ranks;
    private readonly int _ppSize;
    private readonly int _logitsRank;
    private readonly Action<string> _abort;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _go;
    private readonly CountdownEvent _done;
    private readonly Exception?[] _errors;
    private readonly MicroBatcher _microBatcher = new();
    private IReadOnlyList<BatchLayout> _parts = [];
    private float[] _logits = [];
    private int _logitRows;
    private volatile bool _stopping;

    /// <param name="ranks">The local ranks (world ranks in <see cref="RankShard.Rank"/>).</param>
    /// <param name="ppSize">Pipeline stages of the group: with more than one a step runs as micro-batches.</param>
    /// <param name="logitsRank">World rank that ends with the logits (the first rank of the last stage).</param>
    /// <param name="abort">Makes every rank of the group fail its pending collectives with the reason.</param>
    public RankThreads(IReadOnlyList<RankShard> ranks, int ppSize, int logitsRank, Action<string> abort)
    {
        if (ranks.Count == 0) throw new ArgumentException("no ranks to run", nameof(ranks));
        _ranks = [.. ranks];
        _ppSize = ppSize;
        _logitsRank = logitsRank;
        _abort = abort;
        int n = _ranks.Length;
        _errors = new Exception?[n];
        _go = Enumerable.Range(0, n).Select(_ => new SemaphoreSlim(0)).ToArray();
        _done = new CountdownEvent(1);
        _threads = new Thread[n];
        for (int i = 1; i < n; i++)
        {
            int index = i;
            _threads[i] = new Thread(() => Loop(index)) { IsBackground = true, Name = $"granary rank {_ranks[i].Rank}" };
            _threads[i].Start();
        }
    }

    public IReadOnlyList<RankShard> Ranks => _ranks;

    /// <summary>The local rank that ends with the logits, or null when that rank lives elsewhere.</summary>
    public RankShard? LogitsShard => Array.Find(_ranks, r => r.Rank == _logitsRank);

    /// <summary>
    /// Copies a logit row of the last step (whole vocabulary) from the logits rank, which must be one of these ranks:
    /// with one stage from its model, with pipeline stages from the rows it copied to the host during the step.
    /// </summary>
    public void ReadLogits(int logitRow, Span<float> destination)
    {
        var shard = LogitsShard ?? throw new InvalidOperationException("the logits rank is not one of these ranks");
        if (_ppSize == 1) shard.Model.ReadLogits(logitRow, destination);
        else
        {
            int vocab = shard.Model.VocabSize;
            _logits.AsSpan(logitRow * vocab, vocab).CopyTo(destination);
        }
    }

    /// <summary>The <paramref name="k"/> largest logits of every logit row of the last step (<see cref="IModelExecutor.TopLogits"/>).</summary>
    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        var shard = LogitsShard ?? throw new InvalidOperationException("the logits rank is not one of these ranks");
        if (_ppSize == 1) shard.Model.TopLogits(k, ids, values, logSumExp);
        else Granary.Compute.TopLogits.SelectRows(_logits, _logitRows, shard.Model.VocabSize, k, ids, values, logSumExp);
    }

    /// <summary>Time in collectives, averaged over these ranks (<see cref="IParallelExecutor.CommunicationTime"/>).</summary>
    public TimeSpan CommunicationTime => TimeSpan.FromTicks((long)_ranks.Average(r => r.CommunicationTime.Ticks));

    /// <summary>Runs one step on every local rank and returns when all finished; throws the first rank's own failure.</summary>
    public void Run(BatchLayout batch)
    {
        // With pipeline stages the step runs as micro-batches so that the stages overlap; every rank splits alike.
        _parts = _microBatcher.Split(batch, _ppSize);
        _logitRows = batch.LogitRowCount;
        Array.Clear(_errors);
        _done.Reset(_ranks.Length);
        for (int i = 1; i < _ranks.Length; i++) _go[i].Release();
        Step(0);
        _done.Wait();
        // The root cause first: a rank's own failure, not the communicator errors it caused in the others.
        var error = _errors.FirstOrDefault(e => e is not null and not CommunicatorException) ?? _errors.FirstOrDefault(e => e is not null);
        if (error is CommunicatorException) throw new CommunicatorException(error.Message, error);
        if (error is not null) throw new InvalidOperationException($"rank {_ranks[Array.IndexOf(_errors, error)].Rank} failed: {error.Message}", error);
    }

    private void Loop(int index)
    {
        while (true)
        {
            _go[index].Wait();
            if (_stopping) return;
            Step(index);
        }
    }

    private void Step(int index)
    {
        var rank = _ranks[index];
        try
        {
            if (_ppSize == 1) rank.Forward(_parts[0]);
            else if (rank.Rank == _logitsRank) rank.Forward(_parts, ref _logits);
            else
            {
                foreach (var part in _parts) rank.Forward(part);
            }
        }
        catch (Exception e)
        {
            _errors[index] = e;
            _abort(e is CommunicatorException ? e.Message : $"rank {rank.Rank} failed: {e.Message}");
        }
        finally
        {
            _done.Signal();
        }
    }

    /// <summary>Stops the threads (the ranks stay the caller's to dispose).</summary>
    public void Dispose()
    {
        _stopping = true;
        for (int i = 1; i < _ranks.Length; i++) _go[i].Release();
        for (int i = 1; i < _ranks.Length; i++) _threads[i].Join();
        foreach (var go in _go) go.Dispose();
        _done.Dispose();
    }
}

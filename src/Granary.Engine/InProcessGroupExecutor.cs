using System.Diagnostics;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Models.Llama;

namespace Granary.Engine;

/// <summary>
/// A TP x PP group whose ranks are threads of this process, each with its own backend (the CPU cores
/// shared out among them) and its own slice of the model. Rank 0 runs on the caller's thread; the
/// others wait for each step on their own threads. A rank that fails aborts the group, so every rank
/// ends the step with an exception naming it instead of waiting.
/// </summary>
public sealed class InProcessGroupExecutor : IParallelExecutor
{
    private readonly InProcessGroup _group;
    private readonly RankShard[] _ranks;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _go;
    private readonly CountdownEvent _done;
    private readonly Exception?[] _errors;
    private readonly RankReport[] _reports;
    private readonly long[] _stepTicks;
    private readonly MicroBatcher _microBatcher = new();
    private IReadOnlyList<BatchLayout> _parts = [];
    private float[] _logits = [];
    private int _logitRows;
    private volatile bool _stopping;
    private long _executeTicks;

    /// <param name="directory">Model folder.</param>
    /// <param name="plan">The checked layout.</param>
    /// <param name="createBackend">Makes rank r's backend (e.g. a CPU backend with its share of the cores).</param>
    public InProcessGroupExecutor(string directory, ParallelPlan plan, Func<int, IBackend> createBackend, int maxRows, int maxPositions, TimeSpan timeout)
    {
        Plan = plan;
        int n = plan.WorldSize;
        _group = new InProcessGroup(n);
        _ranks = new RankShard[n];
        try
        {
            for (int r = 0; r < n; r++) _ranks[r] = RankShard.Load(directory, plan, r, createBackend(r), _group.Transport(r), maxRows, maxPositions, timeout);
        }
        catch
        {
            foreach (var rank in _ranks) rank?.Dispose();
            _group.Dispose();
            throw;
        }
        _reports = _ranks.Select(r => new RankReport(r.Rank, plan.Describe(r.Rank), r.Model.WeightBytes, r.Model.WorkspaceBytes, r.Model.KvBytesPerToken, 0)).ToArray();
        _errors = new Exception?[n];
        _stepTicks = new long[n];
        _go = Enumerable.Range(0, n).Select(_ => new SemaphoreSlim(0)).ToArray();
        _done = new CountdownEvent(1);
        _threads = new Thread[n];
        for (int r = 1; r < n; r++)
        {
            int rank = r;
            _threads[r] = new Thread(() => Loop(rank)) { IsBackground = true, Name = $"granary rank {r}" };
            _threads[r].Start();
        }
    }

    public ParallelPlan Plan { get; }
    public IReadOnlyList<RankReport> Ranks => _reports;
    public (int Blocks, int BlockSize) KvCache { get; private set; }
    public TimeSpan ExecuteTime => Stopwatch.GetElapsedTime(0, _executeTicks);

    public double CommunicationShare
    {
        get
        {
            double share = 0;
            for (int r = 0; r < _ranks.Length; r++)
                share += _stepTicks[r] == 0 ? 0 : _ranks[r].CommunicationTime.TotalSeconds / Stopwatch.GetElapsedTime(0, _stepTicks[r]).TotalSeconds;
            return share / _ranks.Length;
        }
    }

    public int VocabSize => Plan.Config.VocabSize;
    public int MaxRows => _ranks[0].Model.MaxRows;
    public int MaxPositions => _ranks[0].Model.MaxPositions;
    public long KvBytesPerToken => _ranks.Max(r => r.Model.KvBytesPerToken);

    public void AllocateKvCache(int blocks, int blockSize)
    {
        foreach (var rank in _ranks) rank.AllocateKvCache(blocks, blockSize);
        KvCache = (blocks, blockSize);
    }

    public void Execute(BatchLayout batch)
    {
        if (_group.AbortReason is { } reason) throw new CommunicatorException($"the parallel group stopped earlier: {reason}");
        long start = Stopwatch.GetTimestamp();
        // With pipeline stages the step runs as micro-batches so that the stages overlap.
        _parts = _microBatcher.Split(batch, Plan.PpSize);
        _logitRows = batch.LogitRowCount;
        Array.Clear(_errors);
        _done.Reset(_ranks.Length);
        for (int r = 1; r < _ranks.Length; r++) _go[r].Release();
        Run(0);
        _done.Wait();
        _executeTicks += Stopwatch.GetTimestamp() - start;
        // The root cause first: a rank's own failure, not the communicator errors it caused in the others.
        var error = _errors.FirstOrDefault(e => e is not null and not CommunicatorException) ?? _errors.FirstOrDefault(e => e is not null);
        if (error is CommunicatorException) throw new CommunicatorException(error.Message, error);
        if (error is not null) throw new InvalidOperationException($"rank {Array.IndexOf(_errors, error)} failed: {error.Message}", error);
    }

    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if (Plan.PpSize == 1) _ranks[0].Model.ReadLogits(logitRow, destination);
        else _logits.AsSpan(logitRow * VocabSize, VocabSize).CopyTo(destination);
    }

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (Plan.PpSize == 1) _ranks[0].Model.TopLogits(k, ids, values, logSumExp);
        else Granary.Compute.TopLogits.SelectRows(_logits, _logitRows, VocabSize, k, ids, values, logSumExp);
    }

    private void Loop(int rank)
    {
        while (true)
        {
            _go[rank].Wait();
            if (_stopping) return;
            Run(rank);
        }
    }

    private void Run(int rank)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            if (Plan.PpSize == 1) _ranks[rank].Forward(_parts[0]);
            else if (rank == Plan.LogitsRank) _ranks[rank].Forward(_parts, ref _logits);
            else
            {
                foreach (var part in _parts) _ranks[rank].Forward(part);
            }
        }
        catch (Exception e)
        {
            _errors[rank] = e;
            _group.Abort(e is CommunicatorException ? e.Message : $"rank {rank} failed: {e.Message}");
        }
        finally
        {
            _stepTicks[rank] += Stopwatch.GetTimestamp() - start;
            _done.Signal();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        for (int r = 1; r < _ranks.Length; r++) _go[r].Release();
        for (int r = 1; r < _ranks.Length; r++) _threads[r].Join();
        foreach (var rank in _ranks) rank.Dispose();
        _group.Dispose();
        foreach (var go in _go) go.Dispose();
        _done.Dispose();
    }
}

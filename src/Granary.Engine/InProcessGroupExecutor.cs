using System.Diagnostics;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Models.Checkpoints;
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
    private readonly RankThreads _threads;
    private readonly RankReport[] _reports;
    private long _executeTicks;

    /// <param name="directory">Model folder.</param>
    /// <param name="plan">The checked layout.</param>
    /// <param name="createBackend">Makes rank r's backend (e.g. a CPU backend with its share of the cores).</param>
    /// <param name="progress">Told of the tensors rank 0 reads (the ranks load side by side; one bar is enough), or null.</param>
    public InProcessGroupExecutor(string directory, ParallelPlan plan, Func<int, IBackend> createBackend, int maxRows, int maxPositions, TimeSpan timeout,
        IProgress<TensorProgress>? progress = null)
        : this(plan, LoadAll(directory, plan, createBackend, maxRows, maxPositions, timeout, progress, out var group), group)
    {
    }

    /// <summary>Runs ranks already loaded over <paramref name="group"/>'s transports (a silo's rank grains); owns them and the group.</summary>
    /// <param name="ranks">Every rank of the plan, in rank order.</param>
    public InProcessGroupExecutor(ParallelPlan plan, IReadOnlyList<RankShard> ranks, InProcessGroup group)
    {
        if (ranks.Count != plan.WorldSize || ranks.Where((r, i) => r.Rank != i).Any()) throw new ArgumentException($"expected the {plan.WorldSize} ranks of the plan in rank order", nameof(ranks));
        Plan = plan;
        _group = group;
        _ranks = [.. ranks];
        _reports = _ranks.Select(r => new RankReport(r.Rank, r.Description, r.Model.WeightBytes, r.Model.WorkspaceBytes, r.Model.KvBytesPerToken, 0)).ToArray();
        _threads = new RankThreads(_ranks, plan.PpSize, plan.LogitsRank, _group.Abort);
    }

    private static RankShard[] LoadAll(string directory, ParallelPlan plan, Func<int, IBackend> createBackend, int maxRows, int maxPositions, TimeSpan timeout,
        IProgress<TensorProgress>? progress, out InProcessGroup group)
    {
        var g = new InProcessGroup(plan.WorldSize);
        group = g;
        try
        {
            return RankLoader.LoadAll(plan.WorldSize, r => RankShard.Load(directory, plan, r, createBackend(r), g.Transport(r), maxRows, maxPositions, timeout, r == 0 ? progress : null), r => r.Dispose(), g.Abort);
        }
        catch
        {
            g.Dispose();
            throw;
        }
    }

    public ParallelPlan Plan { get; }
    public IReadOnlyList<RankReport> Ranks => _reports;
    public (int Blocks, int BlockSize) KvCache { get; private set; }
    public TimeSpan ExecuteTime => Stopwatch.GetElapsedTime(0, _executeTicks);
    public TimeSpan CommunicationTime => _threads.CommunicationTime;

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
        try
        {
            _threads.Run(batch);
        }
        finally
        {
            _executeTicks += Stopwatch.GetTimestamp() - start;
        }
    }

    public void ReadLogits(int logitRow, Span<float> destination) => _threads.ReadLogits(logitRow, destination);

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp) => _threads.TopLogits(k, ids, values, logSumExp);

    public void Dispose()
    {
        _threads.Dispose();
        foreach (var rank in _ranks) rank.Dispose();
        _group.Dispose();
    }
}

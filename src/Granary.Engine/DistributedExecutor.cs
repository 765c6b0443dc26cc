using System.Diagnostics;
using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Engine;

/// <summary>
/// Rank 0 of a group whose ranks are separate processes: it runs the engine, sends each step's plan
/// (<see cref="StepPlan"/>) to every other rank, runs its own slice, and gets what sampling needs from the last
/// stage when that is another rank: each logit row's k largest logits (<see cref="TopKReply"/>) when no row needs
/// more, else the rows whole. The other ranks run <see cref="RankWorker"/>.
/// </summary>
public sealed class DistributedExecutor : IParallelExecutor
{
    private readonly RankShard _shard;
    private readonly IPeerTransport _transport;
    private readonly PeerCommunicator _world;
    private readonly RankReport[] _reports;
    private readonly byte[] _header = new byte[StepPlan.HeaderBytes];
    private byte[] _body = new byte[4096];
    private readonly LogitsReply _reply;
    private readonly MicroBatcher _microBatcher = new();
    private long _executeTicks;
    private bool _disposed;

    private DistributedExecutor(ParallelPlan plan, RankShard shard, IPeerTransport transport, PeerCommunicator world, RankReport[] reports)
    {
        Plan = plan;
        _shard = shard;
        _transport = transport;
        _world = world;
        _reports = reports;
        _reply = new LogitsReply(plan.Config.VocabSize);
    }

    /// <summary>
    /// Loads rank 0's slice over an open transport and collects what every other rank loaded
    /// (they report once loaded). Owns <paramref name="backend"/> and <paramref name="transport"/>. <paramref name="progress"/>,
    /// when given, is told of the tensors rank 0 reads.
    /// </summary>
    public static DistributedExecutor Create(string directory, ParallelPlan plan, IBackend backend, IPeerTransport transport, int maxRows, int maxPositions, TimeSpan timeout,
        IProgress<TensorProgress>? progress = null)
    {
        if (transport.Rank != 0) throw new ArgumentException("the distributed executor runs on rank 0", nameof(transport));
        RankShard? shard = null;
        try
        {
            // Rank 0's sizes rule: the other ranks size their buffers from this, whatever their own flags say.
            var setup = new byte[StepPlan.HeaderBytes];
            StepPlan.WriteHeader(setup, StepPlan.Kind.Setup, maxRows, maxPositions);
            for (int r = 1; r < plan.WorldSize; r++) transport.Send(r, setup);
            shard = RankShard.Load(directory, plan, 0, backend, transport, maxRows, maxPositions, timeout, progress);
            var world = new PeerCommunicator(transport, Enumerable.Range(0, plan.WorldSize).ToArray(), timeout);
            var reports = new RankReport[plan.WorldSize];
            reports[0] = new RankReport(0, shard.Description, shard.Model.WeightBytes, shard.Model.WorkspaceBytes, shard.Model.KvBytesPerToken, Environment.WorkingSet);
            Span<long> report = stackalloc long[3];
            for (int r = 1; r < plan.WorldSize; r++)
            {
                // Loading can take long; a rank that dies meanwhile still ends this wait at once.
                world.ReceiveBytes(MemoryMarshal.AsBytes(report), r, Timeout.InfiniteTimeSpan);
                reports[r] = new RankReport(r, plan.Describe(r), report[0], report[1], plan.KvBytesPerToken(r, backend.ActivationType.Size()), report[2]);
            }
            return new DistributedExecutor(plan, shard, transport, world, reports);
        }
        catch (Exception e)
        {
            transport.Abort(e is CommunicatorException ? e.Message : $"rank 0 failed: {e.Message}");
            shard?.Dispose();
            if (shard is null) backend.Dispose();
            transport.Dispose();
            throw;
        }
    }

    public ParallelPlan Plan { get; }
    public IReadOnlyList<RankReport> Ranks => _reports;
    public (int Blocks, int BlockSize) KvCache { get; private set; }
    public TimeSpan ExecuteTime => Stopwatch.GetElapsedTime(0, _executeTicks);
    public TimeSpan CommunicationTime => _shard.CommunicationTime + _world.Elapsed;

    public int VocabSize => Plan.Config.VocabSize;
    public int MaxRows => _shard.Model.MaxRows;
    public int MaxPositions => _shard.Model.MaxPositions;
    public long KvBytesPerToken => _reports.Max(r => r.KvBytesPerToken);

    public void AllocateKvCache(int blocks, int blockSize)
    {
        StepPlan.WriteHeader(_header, StepPlan.Kind.KvCache, blocks, blockSize);
        ToWorkers(_header);
        _shard.AllocateKvCache(blocks, blockSize);
        KvCache = (blocks, blockSize);
    }

    public void Execute(BatchLayout batch)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            int length = StepPlan.Write(batch, _header, ref _body);
            ToWorkers(_header);
            ToWorkers(_body.AsSpan(0, length));
            if (Plan.PpSize == 1) _shard.Forward(batch);
            else
            {
                // The same split on every rank: stages overlap on micro-batches.
                foreach (var part in _microBatcher.Split(batch, Plan.PpSize)) _shard.Forward(part);
            }
            // The logits rank sends each row's k largest logits when the step asked for k, else the rows whole (RankWorker).
            if (Plan.LogitsRank != 0) _world.ReceiveBytes(_reply.Receive(batch.LogitRowCount, batch.SampleCandidates > 0 ? batch.SampleCandidates : -1), Plan.LogitsRank);
        }
        catch (Exception e) when (e is not CommunicatorException)
        {
            _transport.Abort($"rank 0 failed: {e.Message}");
            throw;
        }
        finally
        {
            _executeTicks += Stopwatch.GetTimestamp() - start;
        }
    }

    public void ReadLogits(int logitRow, Span<float> destination)
    {
        if (Plan.LogitsRank == 0) _shard.Model.ReadLogits(logitRow, destination);
        else _reply.ReadLogits(logitRow, destination);
    }

    public void TopLogits(int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        if (Plan.LogitsRank == 0) _shard.Model.TopLogits(k, ids, values, logSumExp);
        else _reply.TopLogits(k, ids, values, logSumExp);
    }

    private void ToWorkers(ReadOnlySpan<byte> data)
    {
        for (int r = 1; r < Plan.WorldSize; r++) _world.SendBytes(data, r);
    }

    /// <summary>Tells the other ranks to stop, then closes the connections.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            StepPlan.WriteHeader(_header, StepPlan.Kind.Stop);
            ToWorkers(_header);
        }
        catch (CommunicatorException) { }
        _shard.Dispose();
        _transport.Dispose();
    }
}

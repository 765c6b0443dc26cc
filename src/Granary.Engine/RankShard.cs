using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Engine;

/// <summary>One rank of a parallel group: its backend, its slice of the model, its KV cache and its communicators.</summary>
public sealed class RankShard : IDisposable
{
    private RankShard(int rank, string description, IBackend backend, LlamaModel model, ICommunicator? tp, ICommunicator? pp)
    {
        Rank = rank;
        Description = description;
        Backend = backend;
        Model = model;
        Tp = tp;
        Pp = pp;
    }

    public int Rank { get; }
    public IBackend Backend { get; }
    public LlamaModel Model { get; }
    public ICommunicator? Tp { get; }
    public ICommunicator? Pp { get; }

    /// <summary>The rank's share of the plan and how its groups exchange tensors, for the logs.</summary>
    public string Description { get; }
    public KvCache? Cache { get; private set; }

    /// <summary>Time in this rank's tensor- and pipeline-parallel collectives.</summary>
    public TimeSpan CommunicationTime => (Tp?.Elapsed ?? TimeSpan.Zero) + (Pp?.Elapsed ?? TimeSpan.Zero);

    /// <summary>
    /// Loads the slice of <paramref name="plan"/>'s <paramref name="rank"/> from the checkpoint (only its own bytes) once
    /// its groups have agreed how to exchange tensors (<see cref="GroupCommunicator"/>: every rank of the plan must
    /// load at the same time); owns <paramref name="backend"/>. <paramref name="progress"/>, when given, is told of the
    /// tensors this rank reads.
    /// </summary>
    public static RankShard Load(string directory, ParallelPlan plan, int rank, IBackend backend, IPeerTransport transport, int maxRows, int maxPositions, TimeSpan timeout,
        IProgress<TensorProgress>? progress = null)
    {
        var shard = plan.Shard(rank);
        ICommunicator? tp = null, pp = null;
        try
        {
            // Every rank agrees on its tensor-parallel group first, then its pipeline group: the same order everywhere.
            string tpHow = "", ppHow = "";
            if (plan.TpSize > 1) tp = GroupCommunicator.Create(backend, transport, plan.TpGroup(shard.PpRank), timeout, out tpHow);
            if (plan.PpSize > 1) pp = GroupCommunicator.Create(backend, transport, plan.PpGroup(shard.TpRank), timeout, out ppHow);
            string description = string.Join("; ", new[] { plan.Describe(rank), tp is null ? null : $"tp collectives: {tpHow}", pp is null ? null : $"pp collectives: {ppHow}" }.OfType<string>());
            using var checkpoint = Checkpoint.Open(directory);
            checkpoint.ReportReads(progress);
            var model = LlamaModel.Load(plan.Config, checkpoint, backend, shard, maxRows, maxPositions, tp, pp);
            return new RankShard(rank, description, backend, model, tp, pp);
        }
        catch
        {
            tp?.Dispose();
            pp?.Dispose();
            backend.Dispose();
            throw;
        }
    }

    public void AllocateKvCache(int blocks, int blockSize)
    {
        Cache?.Dispose();
        Cache = Model.CreateKvCache(blocks, blockSize);
    }

    /// <summary>Runs one step (or micro-batch) of this rank and ends the backend's step (<see cref="IBackend.EndStep"/>).</summary>
    public void Forward(BatchLayout batch)
    {
        Model.Forward(batch, Cache ?? throw new InvalidOperationException("allocate the KV cache first"));
        Backend.EndStep();
    }

    /// <summary>
    /// Runs a step's micro-batches in order; on a rank that ends with logits, copies each one's logit rows
    /// into <paramref name="logits"/> (grown when needed) in the batch's order, full vocabulary per row.
    /// </summary>
    public void Forward(IReadOnlyList<BatchLayout> parts, ref float[] logits)
    {
        int vocab = Model.VocabSize, row = 0;
        bool collect = Model.Shard.IsLastStage;
        if (collect)
        {
            int total = 0;
            foreach (var part in parts) total += part.LogitRowCount;
            if (logits.Length < total * vocab) logits = new float[total * vocab];
        }
        foreach (var part in parts)
        {
            Forward(part);
            if (!collect) continue;
            for (int i = 0; i < part.LogitRowCount; i++, row++) Model.ReadLogits(i, logits.AsSpan(row * vocab, vocab));
        }
    }

    public void Dispose()
    {
        Cache?.Dispose();
        Model.Dispose();
        Tp?.Dispose();
        Pp?.Dispose();
        Backend.Dispose();
    }
}

using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Engine;

/// <summary>One rank of a parallel group: its backend, its slice of the model, its KV cache and its communicators.</summary>
public sealed class RankShard : IDisposable
{
    private RankShard(int rank, IBackend backend, LlamaModel model, PeerCommunicator? tp, PeerCommunicator? pp)
    {
        Rank = rank;
        Backend = backend;
        Model = model;
        Tp = tp;
        Pp = pp;
    }

    public int Rank { get; }
    public IBackend Backend { get; }
    public LlamaModel Model { get; }
    public PeerCommunicator? Tp { get; }
    public PeerCommunicator? Pp { get; }
    public KvCache? Cache { get; private set; }

    /// <summary>Time in this rank's tensor- and pipeline-parallel collectives.</summary>
    public TimeSpan CommunicationTime => (Tp?.Elapsed ?? TimeSpan.Zero) + (Pp?.Elapsed ?? TimeSpan.Zero);

    /// <summary>Loads the slice of <paramref name="plan"/>'s <paramref name="rank"/> from the checkpoint (only its own bytes); owns <paramref name="backend"/>.</summary>
    public static RankShard Load(string directory, ParallelPlan plan, int rank, IBackend backend, IPeerTransport transport, int maxRows, int maxPositions, TimeSpan timeout)
    {
        var shard = plan.Shard(rank);
        var tp = plan.TpSize > 1 ? new PeerCommunicator(transport, plan.TpGroup(shard.PpRank), timeout) : null;
        var pp = plan.PpSize > 1 ? new PeerCommunicator(transport, plan.PpGroup(shard.TpRank), timeout) : null;
        try
        {
            using var checkpoint = Checkpoint.Open(directory);
            var model = LlamaModel.Load(plan.Config, checkpoint, backend, shard, maxRows, maxPositions, tp, pp);
            return new RankShard(rank, backend, model, tp, pp);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    public void AllocateKvCache(int blocks, int blockSize)
    {
        Cache?.Dispose();
        Cache = Model.CreateKvCache(blocks, blockSize);
    }

    public void Forward(BatchLayout batch) => Model.Forward(batch, Cache ?? throw new InvalidOperationException("allocate the KV cache first"));

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
        Backend.Dispose();
    }
}

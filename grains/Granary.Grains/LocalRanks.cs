using Granary.Cluster.Placement;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Engine;
using Granary.Models.Llama;

namespace Granary.Grains;

/// <summary>
/// The ranks a replica that spans silos has on this silo: each linked to every other rank of the replica over
/// TCP (it listens on its silo's rank port base plus its device index), all run together each step.
/// </summary>
internal sealed class LocalRanks : IDisposable
{
    private readonly TcpTransport[] _transports;
    private volatile string? _abortReason;
    private BatchLayout? _batch;
    private readonly int _vocab;

    private LocalRanks(IReadOnlyList<LoadedRank> grains, TcpTransport[] transports, ParallelPlan plan)
    {
        Grains = grains;
        _transports = transports;
        _vocab = plan.Config.VocabSize;
        Threads = new RankThreads([.. grains.Select(g => g.Shard)], plan.PpSize, plan.LogitsRank, Abort);
    }

    public IReadOnlyList<LoadedRank> Grains { get; }
    public RankThreads Threads { get; }

    /// <summary>Why the replica's links were cut (a rank failed or a silo of the replica was lost), or null while they work.</summary>
    public string? AbortReason => _abortReason;

    /// <summary>
    /// Connects this silo's ranks of <paramref name="placement"/> to all the others (they connect at once, each on a
    /// thread of its own: every connect waits for the whole replica) and loads their shards. Blocking. <paramref name="progress"/>
    /// is told of the first local rank's reads.
    /// </summary>
    public static LocalRanks Connect(ReplicaPlacement placement, DeploymentSpec spec, ParallelPlan plan, string siloKey, IReadOnlyList<PeerAddress> addresses,
        int cpuThreads, int maxRows, int maxPositions, TimeSpan timeout, IProgress<Granary.Models.Checkpoints.TensorProgress>? progress = null)
    {
        int[] mine = [.. placement.Ranks.Where(r => r.Silo == siloKey).Select(r => r.Rank)];
        var transports = new TcpTransport?[mine.Length];
        try
        {
            var connecting = mine.Select((rank, i) => Task.Factory.StartNew(() => transports[i] = TcpTransport.Connect(rank, addresses, timeout), TaskCreationOptions.LongRunning)).ToArray();
            try
            {
                Task.WaitAll(connecting);
            }
            catch (AggregateException e)
            {
                throw e.InnerExceptions[0];
            }
            var grains = RankLoader.LoadAll(mine.Length, i => LoadedRank.Load(placement, spec, plan, mine[i], transports[i]!, cpuThreads, maxRows, maxPositions, timeout, i == 0 ? progress : null),
                g => g.Shard.Dispose(), reason => Array.ForEach(transports, t => t?.Abort(reason)));
            return new LocalRanks(grains, transports!, plan);
        }
        catch
        {
            foreach (var transport in transports) transport?.Dispose();
            throw;
        }
    }

    public void AllocateKvCache(int blocks, int blockSize)
    {
        foreach (var grain in Grains) grain.Shard.AllocateKvCache(blocks, blockSize);
    }

    /// <summary>
    /// Runs one step that rank 0's silo sent (<see cref="StepPlan"/>: header then body) on these ranks, and answers
    /// what sampling needs when the logits rank is here (<see cref="StepReply"/>). Steps of one replica come one at a time.
    /// </summary>
    public byte[] Step(ReadOnlySpan<byte> message)
    {
        if (message.Length < StepPlan.HeaderBytes) throw new InvalidDataException($"a step plan of {message.Length} bytes is shorter than its header");
        var (kind, rows, sequences, logitRows, maxBlocks, candidates) = StepPlan.ReadHeader(message);
        if (kind != StepPlan.Kind.Step) throw new InvalidDataException($"expected a step plan, got message kind {(int)kind}: the silos run different versions");
        var body = message[StepPlan.HeaderBytes..];
        if (body.Length != StepPlan.BodyBytes(rows, sequences, logitRows, maxBlocks)) throw new InvalidDataException("the step plan's body does not match its header");
        StepPlan.Read(body, rows, sequences, logitRows, maxBlocks, candidates, ref _batch);
        Threads.Run(_batch!);
        return StepReply.Write(Threads, logitRows, _vocab, candidates);
    }

    /// <summary>Cuts the replica's links: every rank's pending and later collectives fail with the reason.</summary>
    public void Abort(string reason)
    {
        Interlocked.CompareExchange(ref _abortReason, reason, null);
        foreach (var transport in _transports) transport.Abort(reason);
    }

    public void Dispose()
    {
        Threads.Dispose();
        foreach (var grain in Grains) grain.Shard.Dispose();
        foreach (var transport in _transports) transport.Dispose();
    }
}

using System.Runtime.InteropServices;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Models.Llama;
using Microsoft.Extensions.Logging;

namespace Granary.Engine;

/// <summary>
/// A rank other than 0 of a multi-process group: loads its slice, reports it to rank 0, then loops
/// receive plan -> forward (-> send what sampling needs, on the last stage: each logit row's k largest logits as a
/// <see cref="TopKReply"/> when the plan's SampleCandidates is k > 0, else the rows whole) until rank 0 says stop or is lost.
/// </summary>
public static partial class RankWorker
{
    /// <summary>Serves until rank 0 ends the group; a lost peer ends it with a <see cref="CommunicatorException"/> naming the rank. Owns <paramref name="backend"/> and <paramref name="transport"/>.</summary>
    public static void Run(string directory, ParallelPlan plan, IBackend backend, IPeerTransport transport, TimeSpan timeout, ILogger logger, CancellationToken cancellationToken = default)
    {
        int rank = transport.Rank;
        RankShard? shard = null;
        try
        {
            using var stop = cancellationToken.Register(() => transport.Abort($"rank {rank} was cancelled"));
            // Rank 0 sends its step sizes first: most rows per step and longest sequence.
            var header = new byte[StepPlan.HeaderBytes];
            transport.Receive(0, header, Timeout.InfiniteTimeSpan);
            var (setup, maxRows, maxPositions, _, _, _) = StepPlan.ReadHeader(header);
            if (setup != StepPlan.Kind.Setup) throw new CommunicatorException($"rank {rank} expected the setup message from rank 0, got kind {(int)setup}: the ranks run different versions");
            shard = RankShard.Load(directory, plan, rank, backend, transport, maxRows, maxPositions, timeout);
            LogLoaded(logger, rank, shard.Description, shard.Model.WeightBytes / (1024.0 * 1024.0), Environment.WorkingSet / (1024.0 * 1024.0));
            var world = new PeerCommunicator(transport, Enumerable.Range(0, plan.WorldSize).ToArray(), timeout);
            Span<long> report = [shard.Model.WeightBytes, shard.Model.WorkspaceBytes, Environment.WorkingSet];
            world.SendBytes(MemoryMarshal.AsBytes(report), 0);

            var body = new byte[4096];
            var logits = Array.Empty<float>();
            var reply = Array.Empty<byte>();
            BatchLayout? batch = null;
            var microBatcher = new MicroBatcher();
            long steps = 0;
            while (true)
            {
                // Between steps rank 0 may be idle for long: wait as long as it lives.
                world.ReceiveBytes(header, 0, Timeout.InfiniteTimeSpan);
                var (kind, a, b, c, d, e) = StepPlan.ReadHeader(header);
                switch (kind)
                {
                    case StepPlan.Kind.KvCache:
                        shard.AllocateKvCache(a, b);
                        break;
                    case StepPlan.Kind.Step:
                        int length = StepPlan.BodyBytes(a, b, c, d);
                        if (body.Length < length) body = new byte[length];
                        world.ReceiveBytes(body.AsSpan(0, length), 0);
                        StepPlan.Read(body.AsSpan(0, length), a, b, c, d, e, ref batch);
                        var parts = microBatcher.Split(batch!, plan.PpSize);
                        if (rank == plan.LogitsRank)
                        {
                            shard.Forward(parts, ref logits);
                            int vocab = plan.Config.VocabSize;
                            if (e > 0)
                            {
                                int bytes = TopKReply.Bytes(c, e);
                                if (reply.Length < bytes) reply = new byte[bytes];
                                TopLogits.SelectRows(logits.AsSpan(0, c * vocab), c, vocab, e, TopKReply.Ids(reply, c, e), TopKReply.Values(reply, c, e), TopKReply.LogSumExp(reply, c, e));
                                world.SendBytes(reply.AsSpan(0, bytes), 0);
                            }
                            else world.SendBytes(MemoryMarshal.AsBytes(logits.AsSpan(0, c * vocab)), 0);
                        }
                        else
                        {
                            foreach (var part in parts) shard.Forward(part);
                        }
                        steps++;
                        break;
                    case StepPlan.Kind.Stop:
                        LogStopped(logger, rank, steps, shard.CommunicationTime.TotalSeconds);
                        return;
                    default:
                        throw new CommunicatorException($"rank {rank} got an unknown message kind {(int)kind} from rank 0: the ranks run different versions");
                }
            }
        }
        catch (Exception e)
        {
            transport.Abort(e is CommunicatorException ? e.Message : $"rank {rank} failed: {e.Message}");
            throw;
        }
        finally
        {
            if (shard is not null) shard.Dispose();
            else backend.Dispose();
            transport.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rank {Rank}: {Plan}; {WeightMiB:F2} MiB of weights, process working set {ProcessMiB:F1} MiB; waiting for rank 0")]
    private static partial void LogLoaded(ILogger logger, int rank, string plan, double weightMiB, double processMiB);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rank {Rank}: rank 0 ended the group after {Steps} steps ({CommSeconds:F2} s in collectives)")]
    private static partial void LogStopped(ILogger logger, int rank, long steps, double commSeconds);
}

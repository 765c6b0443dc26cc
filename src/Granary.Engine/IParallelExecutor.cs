using Granary.Models.Llama;

namespace Granary.Engine;

/// <summary>An executor whose replica spans several ranks; reports its plan and where the time went.</summary>
public interface IParallelExecutor : IModelExecutor
{
    ParallelPlan Plan { get; }

    /// <summary>Every rank's share, in rank order.</summary>
    IReadOnlyList<RankReport> Ranks { get; }

    /// <summary>KV blocks and block size of the last <see cref="IModelExecutor.AllocateKvCache"/>.</summary>
    (int Blocks, int BlockSize) KvCache { get; }

    /// <summary>Wall time inside <see cref="IModelExecutor.Execute"/>.</summary>
    TimeSpan ExecuteTime { get; }

    /// <summary>
    /// Time in collectives so far, averaged over the ranks this process sees: host time waiting for peers on the host
    /// collectives; device time for NCCL when timed (GRANARY_TIME_COLLECTIVES=1), else zero.
    /// </summary>
    TimeSpan CommunicationTime { get; }
}

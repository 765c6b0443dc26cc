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

    /// <summary>Share of the ranks' step time spent in communication (waiting for peers included), averaged over the ranks this process sees.</summary>
    double CommunicationShare { get; }
}

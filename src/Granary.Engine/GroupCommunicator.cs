using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Cuda;

namespace Granary.Engine;

/// <summary>
/// Makes the communicator of one group of ranks (a tensor- or pipeline-parallel group) once its members have agreed
/// how to exchange tensors: through NCCL when every member is a GPU of its own and has NCCL, else through the host
/// collectives (CPU ranks in place, GPU ranks staged through host memory). The agreement runs over the group's
/// transport when the ranks load, so every member must load at the same time (threads of one process, or processes).
/// </summary>
public static class GroupCommunicator
{
    // A member's report to the group's first rank: flags, then its GPU's UUID.
    private const int ReportBytes = 17;
    private const byte IsGpu = 1, HasNccl = 2;
    // The first rank's answer: 1 for NCCL, then the NCCL id.
    private const int AnswerBytes = 1 + 128;

    /// <summary>Environment switch: GRANARY_NCCL=0 keeps every group on the host collectives.</summary>
    public const string NcclVariable = "GRANARY_NCCL";

    /// <summary>Environment switch: GRANARY_TIME_COLLECTIVES=1 times NCCL calls on the device (CUDA events), for the communication share.</summary>
    public const string TimeVariable = "GRANARY_TIME_COLLECTIVES";

    /// <summary>What one member brings: its GPU (null for a CPU rank) and whether NCCL loads where it runs.</summary>
    public readonly record struct Member(Guid? Gpu, bool Nccl);

    /// <summary>NCCL serves a group only when every member is a GPU with NCCL and no two share a GPU (NCCL refuses that).</summary>
    public static bool UseNccl(IReadOnlyList<Member> members) =>
        members.All(m => m.Gpu is not null && m.Nccl) && members.Select(m => m.Gpu).Distinct().Count() == members.Count;

    /// <summary>
    /// Agrees with the other <paramref name="members"/> (world ranks, group order) and returns this rank's communicator;
    /// <paramref name="description"/> says which kind, for the logs. Blocks until every member has taken part.
    /// </summary>
    public static ICommunicator Create(IBackend backend, IPeerTransport transport, IReadOnlyList<int> members, TimeSpan timeout, out string description)
    {
        var peers = new PeerCommunicator(transport, members, timeout);
        var cuda = backend as CudaBackend;
        var me = new Member(cuda?.DeviceUuid, cuda is not null && Environment.GetEnvironmentVariable(NcclVariable) != "0" && NcclCommunicator.IsAvailable());
        Span<byte> answer = stackalloc byte[AnswerBytes];
        if (peers.Rank == 0)
        {
            var all = new Member[peers.Size];
            all[0] = me;
            Span<byte> report = stackalloc byte[ReportBytes];
            for (int r = 1; r < peers.Size; r++)
            {
                peers.ReceiveBytes(report, r);
                all[r] = new Member((report[0] & IsGpu) != 0 ? new Guid(report[1..]) : null, (report[0] & HasNccl) != 0);
            }
            answer.Clear();
            if (UseNccl(all))
            {
                answer[0] = 1;
                NcclCommunicator.CreateUniqueId().ToArray().CopyTo(answer[1..]);
            }
            peers.BroadcastBytes(answer, 0);
        }
        else
        {
            Span<byte> report = stackalloc byte[ReportBytes];
            report[0] = (byte)((me.Gpu is null ? 0 : IsGpu) | (me.Nccl ? HasNccl : 0));
            (me.Gpu ?? Guid.Empty).TryWriteBytes(report[1..]);
            peers.SendBytes(report, 0);
            peers.BroadcastBytes(answer, 0);
        }
        if (answer[0] == 1)
        {
            bool timed = Environment.GetEnvironmentVariable(TimeVariable) == "1";
            description = $"NCCL{(timed ? ", timed on the device" : "")}";
            return new NcclCommunicator(cuda!, peers.Rank, peers.Size, NcclUniqueId.FromBytes(answer[1..]), timed, transport, timeout);
        }
        if (cuda is null)
        {
            description = "host";
            return peers;
        }
        description = "host, staged through host memory";
        return new HostStagedCommunicator(backend, peers);
    }
}

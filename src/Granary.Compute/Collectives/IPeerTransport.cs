namespace Granary.Compute.Collectives;

/// <summary>
/// Ordered, reliable byte messages between the ranks of a world (threads of one process or processes
/// over TCP). Messages between one pair of ranks arrive in the order they were sent; a send returns as
/// soon as the bytes are copied (it never waits for the peer), so rings and exchanges cannot deadlock.
/// </summary>
public interface IPeerTransport : IDisposable
{
    /// <summary>This rank in the world.</summary>
    int Rank { get; }

    /// <summary>Ranks in the world.</summary>
    int Size { get; }

    /// <summary>Queues a copy of <paramref name="data"/> for <paramref name="peer"/>.</summary>
    void Send(int peer, ReadOnlySpan<byte> data);

    /// <summary>
    /// Waits for the next message from <paramref name="peer"/> (of exactly <paramref name="data"/>'s length)
    /// and copies it in. Throws <see cref="CommunicatorException"/> naming the peer when it is gone, when
    /// the group was aborted, or after <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/> waits
    /// as long as the peer lives).
    /// </summary>
    void Receive(int peer, Span<byte> data, TimeSpan timeout);

    /// <summary>Makes the pending and future operations of every rank fail with <paramref name="reason"/> (best effort).</summary>
    void Abort(string reason);

    /// <summary>
    /// Cancelled once this rank's links fail or are aborted (<see cref="AbortReason"/> says why): what moves data outside
    /// the transport (NCCL on the GPUs) stops waiting for the group then.
    /// </summary>
    CancellationToken Aborted { get; }

    /// <summary>Why the links failed or were aborted, or null while they work.</summary>
    string? AbortReason { get; }
}

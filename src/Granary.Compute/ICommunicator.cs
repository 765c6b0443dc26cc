namespace Granary.Compute;

/// <summary>
/// Collective operations among the ranks of a group (in-process threads, TCP peers or NCCL). Every rank
/// calls the same operations in the same order; a lost peer ends the call with
/// <see cref="CommunicatorException"/> rather than a hang.
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int Size { get; }

    /// <summary>
    /// Time spent in this communicator's operations so far: host time waiting for peers (host collectives), or the
    /// device time of the collectives where they run on a GPU stream and are timed (zero where they are not).
    /// </summary>
    TimeSpan Elapsed { get; }

    /// <summary>Sums <paramref name="length"/> elements across ranks; every rank gets the sum.</summary>
    void AllReduceSum(DeviceBuffer buffer, long length);

    /// <summary>Concatenates each rank's <paramref name="lengthPerRank"/> elements in rank order into <paramref name="receive"/>.</summary>
    void AllGather(DeviceBuffer send, DeviceBuffer receive, long lengthPerRank);

    void Broadcast(DeviceBuffer buffer, long length, int root);

    void Send(DeviceBuffer buffer, long length, int peer);

    void Receive(DeviceBuffer buffer, long length, int peer);
}

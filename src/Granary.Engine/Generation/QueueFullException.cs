namespace Granary.Engine;

/// <summary>The waiting queue is at its bound; the caller should retry later (HTTP 429).</summary>
public sealed class QueueFullException(int waiting) : Exception($"the server is busy: {waiting} requests are waiting; retry later")
{
    public int Waiting => waiting;
}

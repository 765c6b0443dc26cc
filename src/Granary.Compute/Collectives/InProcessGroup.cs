using System.Buffers;
using System.Collections.Concurrent;

namespace Granary.Compute.Collectives;

/// <summary>
/// A world whose ranks are threads of this process: one mailbox per (sender, receiver) pair. A rank
/// that fails calls <see cref="Abort"/> so the others end with a <see cref="CommunicatorException"/>
/// naming it instead of waiting forever.
/// </summary>
public sealed class InProcessGroup : IDisposable
{
    private readonly Mailbox[] _boxes;
    private readonly CancellationTokenSource _abort = new();
    private volatile string? _abortReason;

    public InProcessGroup(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        Size = size;
        _boxes = new Mailbox[size * size];
        for (int i = 0; i < _boxes.Length; i++) _boxes[i] = new Mailbox();
    }

    public int Size { get; }

    /// <summary>Why the group was aborted, or null.</summary>
    public string? AbortReason => _abortReason;

    /// <summary>The transport of one rank.</summary>
    public IPeerTransport Transport(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)rank, (uint)Size, nameof(rank));
        return new RankTransport(this, rank);
    }

    /// <summary>Fails every pending and future receive of every rank with <paramref name="reason"/> (the first reason wins).</summary>
    public void Abort(string reason)
    {
        Interlocked.CompareExchange(ref _abortReason, reason, null);
        _abort.Cancel();
    }

    public void Dispose()
    {
        Abort("the in-process group was disposed");
        foreach (var box in _boxes) box.Drain();
    }

    private Mailbox Box(int from, int to) => _boxes[from * Size + to];

    private sealed class Mailbox
    {
        public readonly ConcurrentQueue<(byte[] Data, int Length)> Queue = new();
        public readonly SemaphoreSlim Count = new(0);

        public void Drain()
        {
            while (Queue.TryDequeue(out var m)) ArrayPool<byte>.Shared.Return(m.Data);
        }
    }

    private sealed class RankTransport(InProcessGroup group, int rank) : IPeerTransport
    {
        public int Rank => rank;
        public int Size => group.Size;
        public CancellationToken Aborted => group._abort.Token;
        public string? AbortReason => group.AbortReason;

        public void Send(int peer, ReadOnlySpan<byte> data)
        {
            if (group._abortReason is { } reason) throw new CommunicatorException(reason);
            var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, data.Length));
            data.CopyTo(copy);
            var box = group.Box(rank, peer);
            box.Queue.Enqueue((copy, data.Length));
            box.Count.Release();
        }

        public void Receive(int peer, Span<byte> data, TimeSpan timeout)
        {
            var box = group.Box(peer, rank);
            try
            {
                if (!box.Count.Wait(timeout, group._abort.Token))
                    throw Fail($"rank {rank} got nothing from rank {peer} for {timeout.TotalSeconds:F0} s: rank {peer} is stuck or lost");
            }
            catch (OperationCanceledException)
            {
                throw new CommunicatorException(group._abortReason ?? "the in-process group was aborted");
            }
            box.Queue.TryDequeue(out var message);
            try
            {
                if (message.Length != data.Length)
                    throw Fail($"rank {peer} sent {message.Length} bytes where rank {rank} expected {data.Length}: the ranks are running different steps");
                message.Data.AsSpan(0, message.Length).CopyTo(data);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(message.Data);
            }
        }

        private CommunicatorException Fail(string reason)
        {
            group.Abort(reason);
            return new CommunicatorException(reason);
        }

        public void Abort(string reason) => group.Abort(reason);

        public void Dispose() { }
    }
}

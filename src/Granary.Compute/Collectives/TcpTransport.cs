using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Granary.Compute.Collectives;

/// <summary>
/// Ranks in different processes or hosts, one TCP connection per pair (a full mesh: worlds are small).
/// Each message is a 4-byte length then the bytes; a length of -1 carries an abort reason instead, which
/// a failing rank sends to every peer so that all of them fail naming the lost rank, not only its
/// neighbours. Sends go through one writer thread per peer, so a send never blocks on the peer. A watcher
/// thread notices a lost peer or an abort frame on a link no one is reading (ranks whose tensors move over
/// NCCL read nothing here during a step), so the group learns of it within a poll slice, not a timeout.
/// </summary>
public sealed class TcpTransport : IPeerTransport
{
    private const int Magic = 0x47524e31; // "GRN1"
    private const int AbortFrame = -1;
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(5); // a rank sends its hello right after connecting

    private readonly Socket?[] _sockets;
    private readonly Link?[] _links;
    private readonly object[] _readLocks; // one reader per link: Receive, or the watcher while Receive is not running
    private readonly Thread _watcher;
    private readonly IReadOnlyList<PeerAddress> _addresses;
    private volatile string? _failure;
    private readonly CancellationTokenSource _aborted = new();
    private int _disposed;

    private TcpTransport(int rank, IReadOnlyList<PeerAddress> addresses, Socket?[] sockets)
    {
        Rank = rank;
        _addresses = addresses;
        _sockets = sockets;
        _links = new Link?[sockets.Length];
        _readLocks = new object[sockets.Length];
        for (int p = 0; p < sockets.Length; p++)
        {
            _readLocks[p] = new object();
            if (sockets[p] is { } s) _links[p] = new Link(this, p, s);
        }
        _watcher = new Thread(Watch) { IsBackground = true, Name = $"granary tcp {rank} watch" };
        _watcher.Start();
    }

    public int Rank { get; }
    public int Size => _sockets.Length;

    /// <summary>
    /// Listens on this rank's port, connects to every lower rank (retrying while they start) and accepts
    /// every higher one. Fails with a <see cref="CommunicatorException"/> naming the rank that did not
    /// show up within <paramref name="connectTimeout"/>.
    /// </summary>
    public static TcpTransport Connect(int rank, IReadOnlyList<PeerAddress> addresses, TimeSpan connectTimeout, CancellationToken cancellationToken = default)
    {
        int size = addresses.Count;
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)rank, (uint)size, nameof(rank));
        var sockets = new Socket?[size];
        var deadline = Stopwatch.StartNew();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (rank < size - 1)
            {
                listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                try
                {
                    listener.Bind(new IPEndPoint(IPAddress.Any, addresses[rank].Port));
                }
                catch (SocketException e)
                {
                    throw new CommunicatorException($"rank {rank} cannot listen on port {addresses[rank].Port}: {e.Message} (is another process using it? change the port or START_PORT)", e);
                }
                listener.Listen(size);
            }
            for (int peer = 0; peer < rank; peer++) sockets[peer] = ConnectTo(rank, peer, size, addresses[peer], connectTimeout, deadline, cancellationToken);
            for (int accepted = rank + 1; accepted < size; accepted++)
            {
                var (socket, peer) = AcceptOne(listener, rank, size, connectTimeout, deadline, cancellationToken);
                if (sockets[peer] is not null) { socket.Dispose(); throw new CommunicatorException($"rank {peer} connected twice to rank {rank}: two processes were started as rank {peer}"); }
                sockets[peer] = socket;
            }
        }
        catch
        {
            foreach (var s in sockets) s?.Dispose();
            throw;
        }
        return new TcpTransport(rank, addresses, sockets);
    }

    private static Socket ConnectTo(int rank, int peer, int size, PeerAddress address, TimeSpan timeout, Stopwatch clock, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    attempt.CancelAfter(TimeSpan.FromSeconds(2));
                    socket.ConnectAsync(address.Host, address.Port, attempt.Token).AsTask().GetAwaiter().GetResult();
                }
                Span<byte> hello = stackalloc byte[12];
                BinaryPrimitives.WriteInt32LittleEndian(hello, Magic);
                BinaryPrimitives.WriteInt32LittleEndian(hello[4..], rank);
                BinaryPrimitives.WriteInt32LittleEndian(hello[8..], size);
                socket.Send(hello);
                KeepAlive(socket);
                return socket;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                if (clock.Elapsed > timeout)
                    throw new CommunicatorException($"rank {rank} could not reach rank {peer} at {address} within {timeout.TotalSeconds:F0} s: start rank {peer}, or fix its address in the topology file / START_PORT", e);
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>
    /// Accepts the next rank. A connection that does not open with a Granary hello (a port scan, or a client
    /// still retrying a process that used this port before) is dropped and the wait goes on, as NCCL's
    /// bootstrap does: only a real rank of another world fails the rank.
    /// </summary>
    private static (Socket Socket, int Peer) AcceptOne(Socket listener, int rank, int size, TimeSpan timeout, Stopwatch clock, CancellationToken cancellationToken)
    {
        int strangers = 0;
        while (true)
        {
            while (!listener.Poll(PollSlice, SelectMode.SelectRead))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (clock.Elapsed > timeout)
                    throw new CommunicatorException($"rank {rank} waited {timeout.TotalSeconds:F0} s for ranks {rank + 1}..{size - 1} to connect: start every rank with the same WORLD_SIZE and topology"
                        + (strangers > 0 ? $" ({strangers} connection(s) that were not Granary ranks were dropped: is another program using port {((IPEndPoint)listener.LocalEndPoint!).Port}?)" : ""));
            }
            var socket = listener.Accept();
            if (ReadHello(socket) is not (int peer, int peerSize))
            {
                socket.Dispose();
                strangers++;
                continue;
            }
            if (peerSize != size || peer <= rank || peer >= size)
            {
                socket.Dispose();
                throw new CommunicatorException($"rank {rank} (world of {size}) was reached by rank {peer} of a world of {peerSize}: start every rank with the same WORLD_SIZE and topology");
            }
            socket.NoDelay = true;
            KeepAlive(socket);
            return (socket, peer);
        }
    }

    /// <summary>The peer's rank and world size, or null when the connection does not open with a Granary hello within <see cref="HelloTimeout"/>.</summary>
    private static (int Peer, int Size)? ReadHello(Socket socket)
    {
        Span<byte> hello = stackalloc byte[12];
        socket.ReceiveTimeout = (int)HelloTimeout.TotalMilliseconds;
        int read = 0;
        try
        {
            while (read < hello.Length)
            {
                int n = socket.Receive(hello[read..]);
                if (n == 0) return null;
                read += n;
            }
        }
        catch (SocketException) { return null; }
        socket.ReceiveTimeout = 0;
        if (BinaryPrimitives.ReadInt32LittleEndian(hello) != Magic) return null;
        return (BinaryPrimitives.ReadInt32LittleEndian(hello[4..]), BinaryPrimitives.ReadInt32LittleEndian(hello[8..]));
    }

    /// <summary>Probes an idle connection every few seconds, so a peer whose host vanished (no FIN) is noticed too.</summary>
    private static void KeepAlive(Socket socket)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 5);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 1);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        }
        catch (Exception e) when (e is SocketException or PlatformNotSupportedException) { }
    }

    public void Send(int peer, ReadOnlySpan<byte> data)
    {
        if (_failure is { } failure) throw new CommunicatorException(failure);
        LinkTo(peer).Post(data);
    }

    public void Receive(int peer, Span<byte> data, TimeSpan timeout)
    {
        var socket = _sockets[peer] ?? throw new ArgumentOutOfRangeException(nameof(peer));
        Span<byte> header = stackalloc byte[4];
        var clock = Stopwatch.StartNew();
        lock (_readLocks[peer])
        {
            ReadExact(peer, socket, header, timeout, clock);
            int length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (length == AbortFrame) throw new CommunicatorException(ReadAbortReason(peer, socket));
            if (length != data.Length)
                throw Fail($"rank {peer} sent {length} bytes where rank {Rank} expected {data.Length}: the ranks are running different steps (same version and options everywhere?)");
            ReadExact(peer, socket, data, timeout, clock);
        }
    }

    /// <summary>Reads the reason that follows an abort frame's header, and aborts this rank with it.</summary>
    private string ReadAbortReason(int peer, Socket socket)
    {
        Span<byte> length = stackalloc byte[4];
        ReadExact(peer, socket, length, TimeSpan.FromSeconds(5), Stopwatch.StartNew());
        var reason = new byte[Math.Clamp(BinaryPrimitives.ReadInt32LittleEndian(length), 0, 4096)];
        ReadExact(peer, socket, reason, TimeSpan.FromSeconds(5), Stopwatch.StartNew());
        string text = Encoding.UTF8.GetString(reason);
        Abort(text);
        return text;
    }

    /// <summary>
    /// Every poll slice, looks at each link no Receive is reading: a closed or broken connection fails the
    /// rank naming the peer, and an abort frame waiting at the head of the link aborts it with the peer's reason.
    /// Data frames are left for Receive.
    /// </summary>
    private void Watch()
    {
        Span<byte> header = stackalloc byte[4];
        while (Volatile.Read(ref _disposed) == 0 && _failure is null)
        {
            Thread.Sleep(PollSlice);
            for (int peer = 0; peer < _sockets.Length && _failure is null; peer++)
            {
                if (_sockets[peer] is not { } socket || !Monitor.TryEnter(_readLocks[peer])) continue;
                try
                {
                    if (Volatile.Read(ref _disposed) != 0 || !socket.Poll(0, SelectMode.SelectRead)) continue;
                    int available = socket.Available;
                    if (available == 0)
                        Fail($"lost rank {peer} ({_addresses[peer]}): its connection closed (the process ended or was killed)");
                    else if (available >= header.Length && socket.Receive(header, SocketFlags.Peek) == header.Length
                             && BinaryPrimitives.ReadInt32LittleEndian(header) == AbortFrame)
                    {
                        socket.Receive(header);
                        ReadAbortReason(peer, socket);
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or CommunicatorException)
                {
                    if (Volatile.Read(ref _disposed) == 0) Abort($"lost rank {peer} ({_addresses[peer]}): {e.Message}");
                }
                finally
                {
                    Monitor.Exit(_readLocks[peer]);
                }
            }
        }
    }

    private void ReadExact(int peer, Socket socket, Span<byte> data, TimeSpan timeout, Stopwatch clock)
    {
        int read = 0;
        while (read < data.Length)
        {
            // Poll in slices so a failure seen on another link (or an abort) ends this wait too.
            if (socket.Available == 0)
            {
                while (!socket.Poll(PollSlice, SelectMode.SelectRead))
                {
                    if (_failure is { } failure) throw new CommunicatorException(failure);
                    if (timeout != Timeout.InfiniteTimeSpan && clock.Elapsed > timeout)
                        throw Fail($"rank {Rank} got nothing from rank {peer} for {timeout.TotalSeconds:F0} s: rank {peer} is stuck or lost");
                }
            }
            int n;
            try
            {
                n = socket.Receive(data[read..]);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                throw Fail($"lost rank {peer} ({_addresses[peer]}): {e.Message}");
            }
            if (n == 0) throw Fail($"lost rank {peer} ({_addresses[peer]}): its connection closed (the process ended or was killed)");
            read += n;
        }
    }

    /// <summary>Records the failure, tells every other peer (so they fail with the same reason) and returns the exception to throw.</summary>
    private CommunicatorException Fail(string reason)
    {
        Abort(reason);
        return new CommunicatorException(_failure ?? reason);
    }

    public void Abort(string reason)
    {
        if (Interlocked.CompareExchange(ref _failure, reason, null) is not null) return;
        foreach (var link in _links) link?.PostAbort(reason);
        _aborted.Cancel();
    }

    public CancellationToken Aborted => _aborted.Token;

    public string? AbortReason => _failure;

    private Link LinkTo(int peer) => _links[peer] ?? throw new ArgumentOutOfRangeException(nameof(peer), peer, $"not a peer of rank {Rank}");

    /// <summary>Flushes what is queued (briefly) and closes every connection.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var link in _links) link?.Complete();
        foreach (var link in _links) link?.Join(TimeSpan.FromSeconds(2));
        foreach (var socket in _sockets)
        {
            if (socket is null) continue;
            try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
            socket.Dispose();
        }
    }

    /// <summary>One peer's outgoing queue and the thread that writes it.</summary>
    private sealed class Link
    {
        private readonly TcpTransport _owner;
        private readonly int _peer;
        private readonly Socket _socket;
        private readonly BlockingCollection<(byte[] Data, int Length)> _queue = new();
        private readonly Thread _writer;

        public Link(TcpTransport owner, int peer, Socket socket)
        {
            _owner = owner;
            _peer = peer;
            _socket = socket;
            _writer = new Thread(Write) { IsBackground = true, Name = $"granary tcp {owner.Rank}->{peer}" };
            _writer.Start();
        }

        public void Post(ReadOnlySpan<byte> data)
        {
            var frame = ArrayPool<byte>.Shared.Rent(data.Length + 4);
            BinaryPrimitives.WriteInt32LittleEndian(frame, data.Length);
            data.CopyTo(frame.AsSpan(4));
            try
            {
                _queue.Add((frame, data.Length + 4));
            }
            catch (InvalidOperationException)
            {
                ArrayPool<byte>.Shared.Return(frame);
                throw new CommunicatorException(_owner._failure ?? $"the connection to rank {_peer} is closed");
            }
        }

        public void PostAbort(string reason)
        {
            var text = Encoding.UTF8.GetBytes(reason);
            var frame = new byte[8 + text.Length];
            BinaryPrimitives.WriteInt32LittleEndian(frame, AbortFrame);
            BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), text.Length);
            text.CopyTo(frame, 8);
            try { _queue.Add((frame, frame.Length)); } catch (InvalidOperationException) { }
        }

        public void Complete() => _queue.CompleteAdding();

        public void Join(TimeSpan timeout) => _writer.Join(timeout);

        private void Write()
        {
            foreach (var (data, length) in _queue.GetConsumingEnumerable())
            {
                try
                {
                    int sent = 0;
                    while (sent < length) sent += _socket.Send(data, sent, length - sent, SocketFlags.None);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Interlocked.CompareExchange(ref _owner._failure, $"lost rank {_peer} ({_owner._addresses[_peer]}): sending to it failed: {e.Message}", null);
                }
                finally
                {
                    if (length != 0 && BinaryPrimitives.ReadInt32LittleEndian(data) != AbortFrame) ArrayPool<byte>.Shared.Return(data);
                }
            }
        }
    }
}

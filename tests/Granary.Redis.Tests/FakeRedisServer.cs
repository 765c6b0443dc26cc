using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Granary.Redis.Tests;

/// <summary>
/// A scripted stand-in for servers we cannot run here (one without HELLO, one that sends garbage): accepts
/// connections, parses each command and writes whatever the responder returns for it.
/// </summary>
public sealed class FakeRedisServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<string, string> _responder;
    private readonly List<string> _commands = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _accepting = Task.CompletedTask;

    private FakeRedisServer(Func<string, string> responder) => _responder = responder;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Every command received, its arguments joined by spaces.</summary>
    public IReadOnlyList<string> Commands
    {
        get { lock (_commands) return [.. _commands]; }
    }

    public static FakeRedisServer Start(Func<string, string> responder)
    {
        var server = new FakeRedisServer(responder);
        server._listener.Start();
        server._accepting = Task.Run(server.AcceptAsync);
        return server;
    }

    private async Task AcceptAsync()
    {
        var sessions = new List<Task>();
        try
        {
            while (true)
                sessions.Add(ServeAsync(await _listener.AcceptSocketAsync(_stop.Token)));
        }
        catch (OperationCanceledException) { }
        await Task.WhenAll(sessions);
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        var buffer = new byte[4096];
        var pending = new List<byte>();
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, _stop.Token);
                if (n == 0)
                    return;
                pending.AddRange(buffer.AsSpan(0, n));
                while (true)
                {
                    var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(pending.ToArray()));
                    if (!RespParser.TryRead(ref reader, build: true, out var command))
                        break;
                    pending.RemoveRange(0, (int)reader.Consumed);
                    string line = string.Join(' ', command!.Items.Select(i => i.ToString()));
                    lock (_commands) _commands.Add(line);
                    await socket.SendAsync(Encoding.UTF8.GetBytes(_responder(line)), _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
    }
}

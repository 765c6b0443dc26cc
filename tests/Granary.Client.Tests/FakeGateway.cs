using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Granary.Client.Tests;

/// <summary>
/// A loopback HTTP/1.1 endpoint that answers every request with one canned response (a gateway that is
/// unavailable, or that sends a broken stream), counting the requests it got.
/// </summary>
internal sealed class FakeGateway : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    public FakeGateway(int status, string reason, string contentType, string body, string extraHeaders = "")
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        _response = $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n{extraHeaders}\r\n{body}";
        _listener.Start();
        _loop = AcceptAsync();
    }

    public Uri BaseUrl => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    public int Requests => Volatile.Read(ref _requests);

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                _ = AnswerAsync(socket);
            }
        }
        catch (OperationCanceledException) { }
        catch (SocketException) { }
    }

    private async Task AnswerAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                using var stream = new NetworkStream(socket);
                using var reader = new StreamReader(stream, Encoding.ASCII, false, 1, leaveOpen: true);
                int length = 0;
                while (await reader.ReadLineAsync(_stop.Token) is { Length: > 0 } header)
                {
                    if (header.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(header[15..].Trim());
                }
                var body = new char[length];
                int read = 0;
                while (read < length && await reader.ReadAsync(body.AsMemory(read), _stop.Token) is > 0 and var n) read += n;
                Interlocked.Increment(ref _requests);
                await stream.WriteAsync(Encoding.UTF8.GetBytes(_response), _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

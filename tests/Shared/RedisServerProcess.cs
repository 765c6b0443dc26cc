using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Granary.Tests.Shared;

/// <summary>
/// A redis-server of the test's own on a free loopback port (never a system service), with persistence off.
/// Killed when disposed; <see cref="KillAsync"/> and <see cref="StartAsync"/> restart it on the same port (empty: no
/// persistence). Compiled into every test project, so it uses no Granary type: each project makes its client options.
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private readonly string[] _extraArgs;
    private Process? _process;

    private RedisServerProcess(int port, string[] extraArgs)
    {
        Port = port;
        _extraArgs = extraArgs;
    }

    public int Port { get; }

    public string Url => $"redis://127.0.0.1:{Port}";

    /// <summary>Starts a server with extra arguments (e.g. <c>--requirepass secret</c>).</summary>
    public static async Task<RedisServerProcess> StartNewAsync(params string[] extraArgs)
    {
        var server = new RedisServerProcess(FreePort(), extraArgs);
        await server.StartAsync();
        return server;
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async Task StartAsync()
    {
        var info = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var a in (string[])["--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--daemonize", "no", "--dir", Path.GetTempPath(), "--enable-debug-command", "local", .. _extraArgs])
            info.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed (scripts/test.sh installs it)", e);
        }
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        // Ready when it accepts connections (a restart may find the old socket in TIME_WAIT; redis uses SO_REUSEADDR).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"redis-server on port {Port} exited with {process.ExitCode}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Kills the server at once (SIGKILL), as a crash would.</summary>
    public async Task KillAsync()
    {
        if (_process is { } p)
        {
            _process = null;
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already exited */ }
            await p.WaitForExitAsync();
            p.Dispose();
        }
    }

    public ValueTask DisposeAsync() => new(KillAsync());
}

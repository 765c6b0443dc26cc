using Granary.Tests.Shared;

namespace Granary.Client.Tests;

/// <summary><c>scripts/run.sh</c> as a user starts it: it says what it does, serves, and stops on a signal with a log line.</summary>
public sealed class RunScriptTests
{
    [Theory]
    [InlineData(2)]  // SIGINT: Ctrl+C, and `kill -INT` of a run.sh started with & (which begins with SIGINT ignored)
    [InlineData(15)] // SIGTERM
    public async Task ServesUntilASignalAndSaysSo(int signal)
    {
        string script = Path.Combine(TestPaths.Repository, "scripts", "run.sh");
        // A non-interactive shell's `&` is what ignores SIGINT; $! is then the server, which run.sh execs.
        using var shell = ChildProcess.Program("bash", ["-c", $"'{script}' --port 0 --kv-cache-mib 16 & echo \"pid $!\"; wait $!"],
            new Dictionary<string, string?> { ["GRANARY_MODEL"] = TestData.Stories15M });
        await shell.WaitForAsync((_, err) => err.Contains("Serving stories15M on http://"), "the server to listen", timeoutSeconds: 300);
        Assert.Contains("run.sh: building Granary", shell.Stderr);
        Assert.Contains("run.sh: starting the server", shell.Stderr);
        int pid = int.Parse(shell.Stdout.Split("pid ")[1].Split('\n')[0]);
        ChildProcess.Signal(pid, signal);
        int code = await shell.WaitForExitAsync();
        Assert.Contains("Shutting down: no new requests", shell.Stderr);
        Assert.Contains("Stopped", shell.Stderr);
        // 130 (an interrupted command) when System.CommandLine saw the interrupt first.
        Assert.True(code == 0 || (signal == 2 && code == 130), $"exit code {code}");
    }
}

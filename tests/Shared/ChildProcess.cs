using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Granary.Tests.Shared;

/// <summary>
/// The built granary CLI (or another .NET program) run as a real child process, with its standard input scripted and its output captured
/// as it comes; disposing kills it if it still runs.
/// </summary>
internal sealed partial class ChildProcess : IDisposable
{
    private readonly StringBuilder _out = new(), _err = new();
    private readonly SemaphoreSlim _changed = new(0);
    private readonly Task _pumps;

    public ChildProcess(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null)
        : this(TestPaths.GranaryDll, args, env)
    {
    }

    /// <summary>Another .NET program (a sample, or the CLI at another path).</summary>
    public ChildProcess(string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null)
        : this(Start("dotnet", [dll, .. args]), env)
    {
    }

    private ChildProcess(ProcessStartInfo start, IReadOnlyDictionary<string, string?>? env)
    {
        // The rank topology of a multi-process run must not leak in from the test's environment.
        foreach (string name in new[] { "WORLD_SIZE", "WORLD_RANK", "LOCAL_WORLD_SIZE", "TP_SIZE", "PP_SIZE", "GRANARY_API_KEY" }) start.Environment.Remove(name);
        foreach (var (name, value) in env ?? new Dictionary<string, string?>()) start.Environment[name] = value;
        Process = new Process { StartInfo = start };
        Process.Start();
        Process.StandardInput.AutoFlush = true;
        _pumps = Task.WhenAll(PumpAsync(Process.StandardOutput, _out), PumpAsync(Process.StandardError, _err));
    }

    /// <summary>A program that is not .NET (a script of the repository through bash).</summary>
    public static ChildProcess Program(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null) => new(Start(program, args), env);

    private static ProcessStartInfo Start(string program, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        return start;
    }

    public Process Process { get; }

    public string Stdout { get { lock (_out) return _out.ToString(); } }

    public string Stderr { get { lock (_err) return _err.ToString(); } }

    /// <summary>Writes one line to the process's standard input.</summary>
    public void WriteLine(string line) => Process.StandardInput.WriteLine(line);

    /// <summary>Closes standard input (end of file: the chat quits).</summary>
    public void CloseInput() => Process.StandardInput.Close();

    /// <summary>Sends SIGINT, as Ctrl+C in a terminal does.</summary>
    public void Interrupt() => Signal(Process.Id, 2);

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/> (a child of this one, or one it started).</summary>
    public static void Signal(int pid, int signal) => Assert.Equal(0, Kill(pid, signal));

    /// <summary>Waits until the captured output satisfies <paramref name="condition"/>; fails (with the output) after <paramref name="timeoutSeconds"/>.</summary>
    public async Task WaitForAsync(Func<string, string, bool> condition, string what, int timeoutSeconds = 30)
    {
        var clock = Stopwatch.StartNew();
        while (!condition(Stdout, Stderr))
        {
            if (Process.HasExited)
            {
                await _pumps.WaitAsync(TimeSpan.FromSeconds(10)); // the last output may still be in the pipes
                if (condition(Stdout, Stderr)) return;
                throw new Xunit.Sdk.XunitException($"the process exited ({Process.ExitCode}) before {what}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }
            if (clock.Elapsed.TotalSeconds > timeoutSeconds) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            await _changed.WaitAsync(TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Waits for the exit and the end of its output; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(int timeoutSeconds = 60)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await Process.WaitForExitAsync(timeout.Token);
            await _pumps.WaitAsync(timeout.Token); // the output it wrote before exiting
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"the process did not exit\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }
        return Process.ExitCode;
    }

    private async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer)) > 0)
        {
            lock (into) into.Append(buffer, 0, n);
            _changed.Release();
        }
    }

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        Process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

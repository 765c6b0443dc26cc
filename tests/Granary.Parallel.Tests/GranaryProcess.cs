using System.Diagnostics;
using System.Text;

namespace Granary.Parallel.Tests;

/// <summary>The built granary CLI run as a child process (one rank), with its output captured.</summary>
internal sealed class GranaryProcess : IDisposable
{
    private static readonly string[] Inherited = ["WORLD_SIZE", "WORLD_RANK", "LOCAL_WORLD_SIZE", "TP_SIZE", "PP_SIZE", "START_PORT", "DISTRIBUTE_CONFIG_FILE", "RANK_TABLE_FILE", "RANKTABLEFILE", "RANK_ID", "RANK", "VLLM_PP_LAYER_PARTITION"];
    private readonly StringBuilder _out = new(), _err = new();

    public GranaryProcess(IEnumerable<string> args, IReadOnlyDictionary<string, string> env)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(TestData.GranaryDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var name in Inherited) start.Environment.Remove(name);
        foreach (var (name, value) in env) start.Environment[name] = value;
        Process = new Process { StartInfo = start };
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.AppendLine(e.Data); };
        Process.Start();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Stdout { get { lock (_out) return _out.ToString(); } }
    public string Stderr { get { lock (_err) return _err.ToString(); } }

    /// <summary>Waits for the exit (and the end of its output); false when it is still running after <paramref name="timeout"/>.</summary>
    public bool Wait(TimeSpan timeout)
    {
        if (!Process.WaitForExit(timeout)) return false;
        Process.WaitForExit();
        return true;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            try { Process.Kill(); } catch (InvalidOperationException) { }
        }
        Process.Dispose();
    }
}

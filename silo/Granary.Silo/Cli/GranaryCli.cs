using System.CommandLine;

namespace Granary.Silo.Cli;

/// <summary>The <c>granary</c> command line; tests run it in-process with their own output writers.</summary>
public static class GranaryCli
{
    public static RootCommand Create() => new("Granary: serve large language models from .NET")
    {
        GenerateCommand.Create(),
        TokenizeCommand.Create(),
        ConvertLlama2cCommand.Create(),
        BenchLocalCommand.Create(),
        ServeCommand.Create(),
        ChatCommand.Create(),
        CompleteCommand.Create(),
        new Command("bench", "Benchmarks") { BenchServeCommand.Create(), BenchControlCommand.Create() },
        SiloCommand.Create(),
        DeployCommand.Create(),
        new Command("cluster", "Look at a cluster") { ClusterStatusCommand.Create() },
    };

    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code (1 with one line on the error writer for user errors).</summary>
    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        var invocation = new InvocationConfiguration { Output = output ?? Console.Out, Error = error ?? Console.Error, EnableDefaultExceptionHandler = false };
        return CliErrors.RunAsync(invocation.Error, () => Create().Parse(args).InvokeAsync(invocation, cancellationToken));
    }
}

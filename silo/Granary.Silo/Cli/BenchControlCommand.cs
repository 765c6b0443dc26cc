using System.CommandLine;
using Granary.Cluster.Transport;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary bench control</c>: the per-step control overhead between silos, one grain call (a step plan out, the
/// sampled tokens back) after another over HTTP/2 on loopback.
/// </summary>
internal static class BenchControlCommand
{
    public static Command Create()
    {
        var calls = new Option<int>("--calls") { Description = "Calls to time (after a warm-up)", DefaultValueFactory = _ => 5000 };
        var request = new Option<int>("--request-bytes") { Description = "Plan size: about 1 KB for 16 decoding sequences", DefaultValueFactory = _ => 1024 };
        var response = new Option<int>("--response-bytes") { Description = "Answer size: 4 bytes a sampled token", DefaultValueFactory = _ => 64 };
        var command = new Command("control", "Time the silo-to-silo control path on loopback (step plan out, tokens back)");
        foreach (var option in new Option[] { calls, request, response }) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            int n = parse.GetValue(calls), req = parse.GetValue(request), res = parse.GetValue(response);
            if (n < 1 || req < 0 || res < 0) throw new ArgumentException("--calls must be at least 1 and the sizes at least 0");
            var result = await ControlPathBenchmark.RunAsync(n, req, res, cancellationToken);
            parse.InvocationConfiguration.Output.WriteLine(result.ToString());
            return 0;
        });
        return command;
    }
}

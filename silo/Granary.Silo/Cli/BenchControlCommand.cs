using System.CommandLine;
using Granary.Grains;
using Granary.Grains.Contracts;
using SiloStatus = Granary.Cluster.Membership.SiloStatus;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary bench control</c>: times the per-step control path between two silos of a running cluster, as a
/// replica spanning silos uses it (a step plan out as an Orleans grain call, the answer back), without the model.
/// </summary>
internal static class BenchControlCommand
{
    public static Command Create()
    {
        var cluster = new ClusterCliOptions();
        var calls = new Option<int>("--calls") { Description = "Calls to time (after a warm-up)", DefaultValueFactory = _ => 5000 };
        var request = new Option<int>("--request-bytes") { Description = "Plan size: about 1 KB for 16 decoding sequences", DefaultValueFactory = _ => 1024 };
        var response = new Option<int>("--response-bytes") { Description = "Answer size: 4 bytes a sampled token", DefaultValueFactory = _ => 64 };
        var command = new Command("control", "Time the silo-to-silo control path of a running cluster (step plan out, tokens back) between its first two active silos");
        cluster.AddTo(command);
        foreach (var option in new Option[] { calls, request, response }) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            int n = parse.GetValue(calls), req = parse.GetValue(request), res = parse.GetValue(response);
            if (n < 1 || req < 0 || res < 0) throw new ArgumentException("--calls must be at least 1 and the sizes at least 0");
            await using var connection = await cluster.ConnectAsync(parse, cancellationToken);
            var status = await ClusterStatusReader.ReadAsync(connection.Client, cluster.Id(parse), cancellationToken);
            var silos = status.Silos.Where(s => s.Row.Status == SiloStatus.Active).Select(s => s.Row).ToList();
            if (silos.Count < 2) throw new ArgumentException($"the control path runs between two silos; cluster '{status.ClusterId}' has {silos.Count} active");
            var timings = await connection.Client.GetGrain<ISiloGrain>(SiloGrainKey.For(silos[0].Key)).TimeCallsAsync(silos[1].Key, n, req, res).WaitAsync(cancellationToken);
            parse.InvocationConfiguration.Output.WriteLine($"{silos[0].Name} -> {silos[1].Name}: {timings}");
            return 0;
        });
        return command;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text;
using Granary.Cluster;
using Granary.Cluster.Membership;
using Granary.Grains;
using SiloStatus = Granary.Cluster.Membership.SiloStatus;

namespace Granary.Silo.Cli;

/// <summary><c>granary cluster status</c>: silos, devices, deployments, replicas and load, as a table or as JSON.</summary>
internal static class ClusterStatusCommand
{
    public static Command Create()
    {
        var cluster = new ClusterCliOptions();
        var output = new Option<string>("--output") { Description = "table or json", DefaultValueFactory = _ => "table" };
        var ranks = new Option<bool>("--ranks") { Description = "Also ask the grain of every rank of the ready replicas what it holds (silo, device, weights, KV cache)" };
        var command = new Command("status", "Show the cluster's silos, devices, deployments, replicas and load");
        cluster.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(ranks);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string format = parse.GetValue(output)!;
            if (format is not ("table" or "json")) throw new ArgumentException($"--output must be table or json, got '{format}'");
            await using var connection = await cluster.ConnectAsync(parse, cancellationToken);
            var status = await ClusterStatusReader.ReadAsync(connection.Client, cluster.Id(parse), cancellationToken);
            if (parse.GetValue(ranks)) status = status with { Ranks = await ClusterStatusReader.ReadRanksAsync(connection.Client, status, cancellationToken) };
            var stdout = parse.InvocationConfiguration.Output;
            stdout.Write(format == "json" ? System.Text.Json.JsonSerializer.Serialize(status, ClusterJson.Default.ClusterStatus) + "\n" : Render(status));
            return 0;
        });
        return command;
    }

    private static string Render(ClusterStatus status)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"cluster {status.ClusterId}; coordinator {status.Coordinator ?? "(none)"}\n\n");
        Table(text, ["SILO", "STATUS", "ADDRESS", "DEVICES", "ROLES", "HEARTBEAT", "RUNNING", "WAITING", "TOKENS"],
            status.Silos.Select(s => new[]
            {
                s.Row.Name, s.Row.Status.ToString(), $"{s.Row.Host}:{s.Row.Port}", string.Join(',', s.Row.Devices),
                s.Row.GatewayUrl is { } url ? $"gateway {url}" : string.Join(',', s.Row.Roles),
                s.HeartbeatAgeMs == long.MaxValue ? "never" : $"{s.HeartbeatAgeMs / 1000.0:F1} s ago",
                // A silo that is not active runs nothing, whatever it last reported.
                s.Row.Status == SiloStatus.Active ? (s.Load?.Running ?? 0).ToString(CultureInfo.InvariantCulture) : "-",
                s.Row.Status == SiloStatus.Active ? (s.Load?.Waiting ?? 0).ToString(CultureInfo.InvariantCulture) : "-",
                (s.Load?.GeneratedTokens ?? 0).ToString(CultureInfo.InvariantCulture),
            }));
        text.Append('\n');
        Table(text, ["DEPLOYMENT", "MODEL", "LAYOUT", "REPLICAS", "READY"],
            status.Deployments.Select(d => new[]
            {
                d.Name, d.Model, $"tp {d.TensorParallelSize} x pp {d.PipelineParallelSize} on {d.DeviceKind}",
                d.AutoReplicas ? $"auto ({status.Replicas.Count(r => r.Placement.Deployment == d.Name)})" : d.Replicas.ToString(CultureInfo.InvariantCulture),
                status.Replicas.Count(r => r.Placement.Deployment == d.Name && r.Ready).ToString(CultureInfo.InvariantCulture),
            }));
        text.Append('\n');
        var names = status.Silos.ToDictionary(s => s.Row.Key, s => s.Row.Name);
        foreach (string reason in status.Unplaced) text.Append("cannot place ").Append(reason).Append('\n');
        Table(text, ["REPLICA", "GENERATION", "RANKS", "SESSION"],
            status.Replicas.Select(r => new[]
            {
                r.Placement.Id, r.Placement.Generation.ToString(CultureInfo.InvariantCulture),
                string.Join(' ', r.Placement.Ranks.Select(k => $"{k.Rank}={names.GetValueOrDefault(k.Silo, k.Silo)}/{k.Device}")),
                r.Ready ? "ready" : r.Error is { } error ? $"failed: {error}" : "loading",
            }));
        if (status.Ranks.Count > 0)
        {
            text.Append('\n');
            Table(text, ["RANK", "SILO", "DEVICE", "WEIGHTS", "KV CACHE"],
                status.Ranks.Select(k => new[]
                {
                    $"{k.Replica}/{k.Rank}", names.GetValueOrDefault(k.Silo, k.Silo), k.Device,
                    k.Error is { } error ? $"unreachable: {error}" : Mib(k.WeightBytes),
                    k.Error is null ? $"{Mib(k.KvCacheBytes)} ({k.KvBlocks} blocks)" : "-",
                }));
        }
        return text.ToString();
    }

    private static string Mib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MiB");

    private static void Table(StringBuilder text, string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = header.Select((_, c) => all.Max(r => r[c].Length)).ToArray();
        foreach (var row in all)
            text.Append(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()).Append('\n');
        if (all.Count == 1) text.Append("(none)\n");
    }
}

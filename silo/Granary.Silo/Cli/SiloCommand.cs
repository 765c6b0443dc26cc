using System.CommandLine;
using Granary.Cluster;
using Granary.Grains;
using Microsoft.Extensions.Configuration;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary silo</c>: one Orleans silo per node (or per set of GPUs). With <c>--cluster redis://...</c> it joins the
/// cluster through Orleans' Redis clustering; without it, it runs alone (localhost clustering, no Redis). It offers its
/// devices to the coordinator, runs the replicas placed on it, and with <c>--gateway</c> serves the OpenAI API.
/// Settings not on the command line come from configuration: environment variables GRANARY_Cluster__NAME (e.g.
/// GRANARY_Cluster__ProbeTimeout=00:00:01) bind <see cref="ClusterOptions"/>.
/// </summary>
internal static class SiloCommand
{
    /// <summary>Exit code of a silo that Orleans stopped on its own, e.g. declared dead by the cluster (a supervisor restarts it, and it rejoins as a new generation).</summary>
    public const int DeclaredDead = 3;

    public static Command Create()
    {
        var cluster = new ClusterCliOptions();
        var name = new Option<string?>("--name") { Description = "This silo's name (default: the host name)" };
        var host = new Option<string?>("--host") { Description = "Address other silos reach this one at (default 127.0.0.1)" };
        var port = new Option<int?>("--port") { Description = "Orleans silo-to-silo port (default 11111; 0 picks a free one)" };
        var devices = new Option<string?>("--devices") { Description = "Devices offered to rank grains: cpu:0,cpu:1 or cuda:0,cuda:1 (default cpu:0)" };
        var rankPorts = new Option<int?>("--rank-port-base") { Description = "First TCP port of the rank links of replicas spanning silos: one per device, base + device index (default 12000)" };
        var clientPort = new Option<int?>("--client-port") { Description = "Orleans gateway port for Orleans clients (default 30000; 0 picks a free one)" };
        var threads = new Option<int?>("--threads") { Description = "CPU threads the CPU ranks of this silo share (default: every core)" };
        var warmup = new Option<double?>("--warmup") { Description = "Seconds of untimed generation a replica whose session is here runs before it serves (default: 2 on a GPU, 0.5 on the CPU; 0: none)" };
        var kubernetes = new Option<bool>("--kubernetes") { Description = "Run in a Kubernetes pod with Orleans' Kubernetes hosting: named and addressed by the pod (POD_NAME, POD_IP, POD_NAMESPACE), silos of deleted pods declared dead at once (deploy/kubernetes)" };
        var gateway = new Option<bool>("--gateway") { Description = "Serve the OpenAI API and route requests to the replicas" };
        var gatewayHost = new Option<string>("--gateway-host") { Description = "Address the gateway listens on", DefaultValueFactory = _ => "127.0.0.1" };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "Port of the gateway (0 picks a free one)", DefaultValueFactory = _ => 8000 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on the gateway's /v1 (default: $GRANARY_API_KEY, else open)" };
        var deployment = new Option<string?>("--deployment") { Description = "Deployment the gateway serves (default: the cluster's only one)" };
        var command = new Command("silo", "Run an Orleans silo: join a cluster (or run alone), offer this node's devices, run the replicas placed here, optionally serve the OpenAI API");
        cluster.AddTo(command);
        foreach (var option in new Option[] { name, host, port, clientPort, devices, rankPorts, threads, warmup, kubernetes, gateway, gatewayHost, gatewayPort, apiKey, deployment })
            command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ClusterOptions();
            new ConfigurationBuilder().AddEnvironmentVariables("GRANARY_").Build().GetSection("Cluster").Bind(options);
            options.RedisUrl = cluster.RedisUrlOrNone(parse) ?? "";
            options.ClusterId = cluster.Id(parse);
            if (parse.GetValue(name) is { } n) options.SiloName = n;
            if (parse.GetValue(host) is { } h) options.AdvertisedHost = h;
            if (parse.GetValue(port) is { } p) options.Port = p;
            if (parse.GetValue(clientPort) is { } cp) options.ClientPort = cp;
            if (parse.GetValue(threads) is { } t) options.Threads = t;
            if (parse.GetValue(rankPorts) is { } r) options.RankPortBase = r;
            if (parse.GetValue(warmup) is { } w) options.Warmup = TimeSpan.FromSeconds(w);
            if (parse.GetValue(kubernetes)) options.Kubernetes = true;
            if (parse.GetValue(devices) is { } d) options.Devices = [.. d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            var siloOptions = new SiloOptions
            {
                Cluster = options,
                Gateway = parse.GetValue(gateway),
                GatewayHost = parse.GetValue(gatewayHost)!,
                GatewayPort = parse.GetValue(gatewayPort),
                ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("GRANARY_API_KEY"),
                Deployment = parse.GetValue(deployment),
            };
            using var loggers = CliLogging.Create();
            await using var silo = await SiloHost.StartAsync(siloOptions, loggers, cancellationToken);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, silo.Stopped);
            try
            {
                await Task.Delay(Timeout.Infinite, both.Token);
            }
            catch (OperationCanceledException) { }
            if (silo.Stopped.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: Orleans stopped silo {silo.Key} (the cluster may have declared it dead); it stops serving: restart it to rejoin");
                return DeclaredDead;
            }
            return 0;
        });
        return command;
    }
}

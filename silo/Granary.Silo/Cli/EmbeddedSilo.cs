using Granary.Cluster;
using Granary.Cluster.Placement;
using Granary.Engine;
using Granary.Grains;
using Granary.Grains.Contracts;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary serve</c> as the README runs it: one Orleans silo alone (localhost clustering, no Redis) whose gateway
/// serves the OpenAI API, and one deployment of the model on this process's devices, made from serve's flags. The
/// request path is the cluster's (gateway, replica router, session), so a model served here behaves as it does on a
/// cluster; a request whose replica is busy gets 429, as from one engine.
/// </summary>
internal static partial class EmbeddedSilo
{
    public sealed record Settings(string Model, LocalModelOptions Options, string Quantization, int MaxWaiting, TimeSpan? Warmup, string Host, int Port,
        string? ApiKey, string? ServedModelName, long MaxRequestBodyBytes);

    public static async Task<int> ServeAsync(Settings settings, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var spec = Deployment(settings);
        CheckModel(spec);
        var logger = loggers.CreateLogger("Granary.Serve");
        var silo = await SiloHost.StartAsync(Silo(settings, spec), loggers, cancellationToken);
        try
        {
            var coordinator = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key);
            await coordinator.DeployAsync(spec).WaitAsync(cancellationToken);
            await WaitUntilServingAsync(coordinator, spec.Name, silo.Stopped, cancellationToken);
            LogServing(logger, settings.ServedModelName ?? spec.Name, silo.GatewayUrl!);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, silo.Stopped);
            try
            {
                await Task.Delay(Timeout.Infinite, both.Token);
            }
            catch (OperationCanceledException) { }
            return silo.Stopped.IsCancellationRequested && !cancellationToken.IsCancellationRequested ? SiloCommand.DeclaredDead : 0;
        }
        finally
        {
            await silo.DisposeAsync(); // the gateway drains first (5 s for running requests), then the replica stops
            LogStopped(logger);
        }
    }

    /// <summary>The deployment serve's flags describe: one replica, split as --tp and --pp say, on --device.</summary>
    private static DeploymentSpec Deployment(Settings settings)
    {
        var options = settings.Options;
        var parallel = options.Parallel;
        string folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(settings.Model));
        return new DeploymentSpec
        {
            // A deployment's name is a plain name; the API answers to --served-model-name (Hugging Face names hold '/') as well.
            Name = (settings.ServedModelName ?? folder).Replace('/', '-').Replace(':', '-'),
            Model = settings.Model,
            TensorParallelSize = parallel.ResolveTensorParallelSize(null),
            PipelineParallelSize = parallel.PipelineParallelSize,
            PipelinePartition = parallel.PipelinePartition,
            Replicas = 1,
            DeviceKind = DeviceKind(options.Device),
            Quantization = settings.Quantization,
            KvCacheMiB = Math.Max(1, options.Engine.KvCacheBytes >> 20),
            MaxModelLength = options.Engine.MaxModelLength,
            AllowLongMaxModelLength = options.Engine.AllowLongMaxModelLength,
            MaxSequences = options.Engine.MaxSequences,
            MaxBatchedTokens = options.Engine.MaxBatchedTokens,
            MaxWaiting = settings.MaxWaiting,
            AsyncScheduling = options.Engine.AsyncScheduling,
            FeedTokensOnDevice = options.Engine.FeedTokensOnDevice,
        };
    }

    /// <summary>The silo: alone, on free Orleans ports, offering one device per rank (--device's index onwards), the gateway where --host and --port say.</summary>
    private static SiloOptions Silo(Settings settings, DeploymentSpec spec)
    {
        int first = Granary.Cuda.CudaBackendOptions.Parse(settings.Options.Device)?.Device ?? 0;
        return new SiloOptions
        {
            Cluster = new ClusterOptions
            {
                SiloName = "serve",
                Port = 0,
                ClientPort = 0,
                Devices = [.. Enumerable.Range(first, spec.RanksPerReplica).Select(i => $"{spec.DeviceKind}:{i}")],
                Threads = settings.Options.Threads,
                Warmup = settings.Warmup,
            },
            Gateway = true,
            GatewayHost = settings.Host,
            GatewayPort = settings.Port,
            ApiKey = settings.ApiKey,
            ServedModelName = settings.ServedModelName,
            MaxRequestBodyBytes = settings.MaxRequestBodyBytes,
        };
    }

    private static string DeviceKind(string device) => device.StartsWith("cpu", StringComparison.OrdinalIgnoreCase) ? "cpu"
        : Granary.Cuda.CudaBackendOptions.Parse(device) is not null ? "cuda" // throws for a malformed cuda:N
        : throw new ArgumentException($"--device must be cpu or cuda:N, got '{device}'");

    /// <summary>What would stop the replica from loading, checked before the silo starts so that the user sees it at once.</summary>
    private static void CheckModel(DeploymentSpec spec)
    {
        spec.Validate();
        if (Granary.Compute.WeightQuantizationNames.Parse(spec.Quantization) == Granary.Compute.WeightQuantization.Q8_0 && spec.DeviceKind != "cpu")
            throw new ArgumentException($"--quantization {spec.Quantization} runs on the CPU backend only, not on {spec.DeviceKind}");
        var config = ModelConfig.Load(LocalModel.CheckExists(spec.Model));
        ParallelPlan.Create(config, spec.TensorParallelSize, spec.PipelineParallelSize, spec.PipelinePartition);
        Granary.Tokenizers.TokenizerLoader.FromModelDirectory(spec.Model);
    }

    /// <summary>Waits for the replica to serve; throws with the replica's own error when it cannot load.</summary>
    private static async Task WaitUntilServingAsync(ICoordinatorGrain coordinator, string deployment, CancellationToken stopped, CancellationToken cancellationToken)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopped);
        while (true)
        {
            var view = await coordinator.GetViewAsync().WaitAsync(both.Token);
            var replicas = view.Replicas.Where(r => r.Placement.Deployment == deployment).ToList();
            if (replicas.Any(r => r.Ready)) return;
            if (replicas.FirstOrDefault(r => r.Error is not null) is { } failed) throw new ModelLoadException($"the model could not be loaded: {failed.Error}");
            if (view.Unplaced.FirstOrDefault(u => u.StartsWith(deployment + "/", StringComparison.Ordinal)) is { } unplaced) throw new ModelLoadException($"the model could not be placed: {unplaced}");
            await Task.Delay(100, both.Token);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving {Model} on {Url}")]
    private static partial void LogServing(ILogger logger, string model, string url);
}

using System.CommandLine;
using Granary.Cluster;
using Granary.Cluster.Placement;
using Granary.Grains.Contracts;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;

namespace Granary.Silo.Cli;

/// <summary>
/// <c>granary deploy</c>: gives the coordinator grain a deployment's desired state (model, tp, pp, replicas); it
/// places its ranks on free devices of live silos. <c>--delete</c> removes it.
/// </summary>
internal static class DeployCommand
{
    public static Command Create()
    {
        var cluster = new ClusterCliOptions();
        var model = new Option<string?>("--model") { Description = "Model folder, at this path on every silo (env CHECKPOINT_PATH)" };
        var name = new Option<string?>("--name") { Description = "Deployment name, served as the model name (default: the model folder's name)" };
        var tp = new Option<int?>("--tensor-parallel-size", "--tp") { Description = "Tensor-parallel ranks per stage (env TP_SIZE; default 1)" };
        var pp = new Option<int?>("--pipeline-parallel-size", "--pp") { Description = "Pipeline stages (env PP_SIZE; default 1)" };
        var partition = new Option<string?>("--pp-partition") { Description = "Layers per stage, e.g. 3,2,3" };
        var replicas = new Option<string>("--replicas") { Description = "Replicas, or auto to fill every free device", DefaultValueFactory = _ => "1" };
        var device = new Option<string>("--device") { Description = "Device kind the ranks run on: cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var quantization = new Option<string>("--quantization") { Description = "Store weights quantized at load: none, q8_0 (llama.cpp's Q8_0, CPU only) or fp8 (E4M3, CUDA and CPU)", DefaultValueFactory = _ => "none" };
        var kvCache = new Option<long>("--kv-cache-mib") { Description = "KV cache memory per rank in MiB", DefaultValueFactory = _ => 256 };
        var maxModelLength = new Option<int>("--max-model-len") { Description = "Longest prompt plus output (default: the model's context)" };
        var allowLong = new Option<bool>("--allow-long-max-model-len") { Description = "Let --max-model-len exceed the model's context (max_position_embeddings): positions past it are computed, their outputs untested" };
        var maxSeqs = new Option<int>("--max-num-seqs") { Description = "Most sequences in a replica's running batch", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-batched-tokens", "--max-num-batched-tokens") { Description = "Most tokens per step of a replica", DefaultValueFactory = _ => 512 };
        var maxWaiting = new Option<int>("--max-waiting") { Description = "Most requests waiting in a replica before the gateway answers 429", DefaultValueFactory = _ => 256 };
        var noAsync = new Option<bool>("--no-async-scheduling") { Description = "Replicas lay out each step only once the step before it is read (default: the next decode step is laid out while the last one runs)" };
        var delete = new Option<bool>("--delete") { Description = "Remove the deployment named by --name (or --model) instead" };
        var command = new Command("deploy", "Write a deployment (model, tp, pp, replicas) to the cluster; the coordinator places it");
        cluster.AddTo(command);
        foreach (var option in new Option[] { model, name, tp, pp, partition, replicas, device, quantization, kvCache, maxModelLength, allowLong, maxSeqs, maxTokens, maxWaiting, noAsync, delete })
            command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            string? folder = parse.GetValue(model) ?? Environment.GetEnvironmentVariable("CHECKPOINT_PATH");
            string deployment = parse.GetValue(name) ?? (folder is null ? throw new ArgumentException("--model DIR (or --name NAME with --delete) is required")
                : Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)));
            await using var connection = await cluster.ConnectAsync(parse, cancellationToken);
            var coordinator = connection.Client.GetGrain<ICoordinatorGrain>(ICoordinatorGrain.Key);
            if (parse.GetValue(delete))
            {
                if (!await coordinator.RemoveAsync(deployment).WaitAsync(cancellationToken)) throw new ArgumentException($"there is no deployment '{deployment}' in cluster '{cluster.Id(parse)}'");
                stdout.WriteLine($"deployment {deployment} removed; its replicas stop");
                return 0;
            }
            if (folder is null) throw new ArgumentException("--model DIR is required");
            string text = parse.GetValue(replicas)!;
            bool auto = text.Equals("auto", StringComparison.OrdinalIgnoreCase);
            if (!auto && !int.TryParse(text, out _)) throw new ArgumentException($"--replicas must be a number or auto, got '{text}'");
            string? layers = parse.GetValue(partition);
            var spec = new DeploymentSpec
            {
                Name = deployment,
                Model = Path.GetFullPath(folder),
                TensorParallelSize = parse.GetValue(tp) ?? CommonOptions.EnvInt("TP_SIZE") ?? 1,
                PipelineParallelSize = parse.GetValue(pp) ?? CommonOptions.EnvInt("PP_SIZE") ?? 1,
                PipelinePartition = layers is null ? null : ParallelPlan.ParsePartition(layers),
                Replicas = auto ? 0 : int.Parse(text),
                AutoReplicas = auto,
                DeviceKind = parse.GetValue(device)!,
                Quantization = parse.GetValue(quantization)!,
                KvCacheMiB = parse.GetValue(kvCache),
                MaxModelLength = parse.GetValue(maxModelLength),
                AllowLongMaxModelLength = parse.GetValue(allowLong),
                MaxSequences = parse.GetValue(maxSeqs),
                MaxBatchedTokens = parse.GetValue(maxTokens),
                MaxWaiting = parse.GetValue(maxWaiting),
                AsyncScheduling = !parse.GetValue(noAsync),
            };
            spec.Validate();
            if (Granary.Compute.WeightQuantizationNames.Parse(spec.Quantization) == Granary.Compute.WeightQuantization.Q8_0 && spec.DeviceKind != "cpu")
                throw new ArgumentException($"--quantization {spec.Quantization} runs on the CPU backend only, not on {spec.DeviceKind}");
            // The same checks a silo runs before loading, here where the user sees them, when the folder is here too.
            if (Directory.Exists(spec.Model) || File.Exists(spec.Model))
            {
                var config = ModelConfig.Load(spec.Model);
                ParallelPlan.Create(config, spec.TensorParallelSize, spec.PipelineParallelSize, spec.PipelinePartition);
                ContextLength.Resolve(config, spec.MaxModelLength, spec.AllowLongMaxModelLength);
            }
            else
                parse.InvocationConfiguration.Error.WriteLine($"warning: {spec.Model} is not on this machine; every silo must have it at that path");
            await coordinator.DeployAsync(spec).WaitAsync(cancellationToken);
            string count = auto ? "auto" : spec.Replicas.ToString(System.Globalization.CultureInfo.InvariantCulture);
            stdout.WriteLine($"deployment {spec.Name}: {spec.Model}, tp {spec.TensorParallelSize} x pp {spec.PipelineParallelSize} on {spec.DeviceKind}, replicas {count}; the coordinator places it");
            return 0;
        });
        return command;
    }
}

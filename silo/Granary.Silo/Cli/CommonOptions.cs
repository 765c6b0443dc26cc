using System.CommandLine;
using Granary.Engine;

namespace Granary.Silo.Cli;

/// <summary>Options shared by the commands that load a model in this process.</summary>
internal sealed class CommonOptions
{
    public Option<string> Model { get; } = new("--model") { Description = "Model folder (Hugging Face layout: config.json, *.safetensors, tokenizer.json)", Required = true };
    public Option<int> Threads { get; } = new("--threads") { Description = "CPU threads (default: all cores)" };
    public Option<int> MaxModelLength { get; } = new("--max-model-len") { Description = "Longest prompt plus output (default: the model's context)" };
    public Option<bool> AllowLongMaxModelLength { get; } = new("--allow-long-max-model-len") { Description = "Let --max-model-len exceed the model's context (max_position_embeddings): positions past it are computed, their outputs untested (env VLLM_ALLOW_LONG_MAX_MODEL_LEN=1)" };
    public Option<long> KvCacheMiB { get; } = new("--kv-cache-mib") { Description = "KV cache memory in MiB (default 1024)", DefaultValueFactory = _ => 1024 };
    public Option<string> Device { get; } = new("--device") { Description = "Device to compute on: cpu or cuda:N (default cpu)", DefaultValueFactory = _ => "cpu" };
    public Option<string> Quantization { get; } = new("--quantization") { Description = "Store weights quantized at load: none, q8_0 (llama.cpp's Q8_0, CPU only) or fp8 (E4M3, a scale per output channel: read as FP8 on CUDA, dequantized on the CPU); default none", DefaultValueFactory = _ => "none" };
    public Option<int?> TensorParallel { get; } = new("--tensor-parallel-size", "--tp") { Description = "Tensor-parallel ranks (env TP_SIZE; default 1, or WORLD_SIZE / PP when started as one process per rank)" };
    public Option<int?> PipelineParallel { get; } = new("--pipeline-parallel-size", "--pp") { Description = "Pipeline stages (env PP_SIZE; default 1)" };
    public Option<bool> NoAsyncScheduling { get; } = new("--no-async-scheduling") { Description = "Lay out each step only once the step before it is read (default: the next decode step is laid out while the last one runs, as vLLM's async scheduling)" };
    public Option<bool> NoTokenFeed { get; } = new("--no-token-feed") { Description = "With async scheduling, launch a greedy decode step only once the step before it is read back (default: on one rank its tokens are taken from that step's top-1 on the device, so it launches before)" };
    public Option<string> PipelinePartition { get; } = new("--pp-partition") { Description = "Layers per pipeline stage, e.g. 3,2,3 (env VLLM_PP_LAYER_PARTITION; default: even, extra layers on the stages before the last)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Threads);
        command.Options.Add(MaxModelLength);
        command.Options.Add(AllowLongMaxModelLength);
        command.Options.Add(KvCacheMiB);
        command.Options.Add(Device);
        command.Options.Add(Quantization);
        command.Options.Add(TensorParallel);
        command.Options.Add(PipelineParallel);
        command.Options.Add(PipelinePartition);
        command.Options.Add(NoAsyncScheduling);
        command.Options.Add(NoTokenFeed);
    }

    public LocalModelOptions Read(ParseResult parse, int maxBatchedTokens = 512, int maxSequences = 64) => new()
    {
        Threads = parse.GetValue(Threads),
        Device = parse.GetValue(Device)!,
        Quantization = Granary.Compute.WeightQuantizationNames.Parse(parse.GetValue(Quantization)),
        Parallel = ReadParallel(parse),
        LoadProgress = new TensorProgressBar(new ProgressBar(parse.InvocationConfiguration.Error, $"loading {Path.GetFileName(Path.TrimEndingDirectorySeparator(parse.GetValue(Model)!))}"), "loaded"),
        Engine = new EngineOptions
        {
            MaxModelLength = parse.GetValue(MaxModelLength),
            AllowLongMaxModelLength = parse.GetValue(AllowLongMaxModelLength) || Env("VLLM_ALLOW_LONG_MAX_MODEL_LEN") is "1" or "true",
            KvCacheBytes = parse.GetValue(KvCacheMiB) * 1024 * 1024,
            MaxBatchedTokens = maxBatchedTokens,
            MaxSequences = maxSequences,
            AsyncScheduling = !parse.GetValue(NoAsyncScheduling),
            FeedTokensOnDevice = !parse.GetValue(NoTokenFeed),
        },
    };

    /// <summary>Flags first, then the environment variables users of rtp-llm and vLLM set; the multi-process topology from the environment.</summary>
    private ModelParallelOptions ReadParallel(ParseResult parse)
    {
        string? partition = parse.GetValue(PipelinePartition) ?? Env("VLLM_PP_LAYER_PARTITION");
        return new ModelParallelOptions
        {
            TensorParallelSize = parse.GetValue(TensorParallel) ?? EnvInt("TP_SIZE") ?? 0,
            PipelineParallelSize = parse.GetValue(PipelineParallel) ?? EnvInt("PP_SIZE") ?? 1,
            PipelinePartition = partition is null ? null : Granary.Models.Llama.ParallelPlan.ParsePartition(partition),
            Cluster = ClusterTopology.FromEnvironment(),
        };
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    internal static int? EnvInt(string name) => Env(name) is not { } text ? null
        : int.TryParse(text, out int value) ? value : throw new ArgumentException($"{name}='{text}' is not a whole number");
}

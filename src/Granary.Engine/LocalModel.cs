using Granary.ChatTemplates;
using Granary.Compute;
using Granary.Compute.Collectives;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Engine;

/// <summary>
/// A Hugging Face model folder loaded in this process: config, weights on the CPU backend, tokenizer,
/// chat template and an engine over them. With <see cref="LocalModelOptions.Parallel"/> the model is split
/// TP x PP ways: across threads of this process, or (with a <see cref="ClusterTopology"/>) across processes
/// where this one is rank 0 and the others run <see cref="RunWorker"/>.
/// </summary>
public sealed partial class LocalModel : IDisposable
{
    private LocalModel(string directory, ModelConfig config, ITokenizer tokenizer, LoadedChatTemplate? template, IModelExecutor executor, LlmEngine engine, IReadOnlyList<int> eos)
    {
        Directory = directory;
        Config = config;
        Tokenizer = tokenizer;
        ChatTemplate = template;
        ModelExecutor = executor;
        Engine = engine;
        EosTokenIds = eos;
    }

    public string Directory { get; }
    public ModelConfig Config { get; }
    public ITokenizer Tokenizer { get; }
    public LoadedChatTemplate? ChatTemplate { get; }
    /// <summary>The single-rank executor; throws for a model split across ranks (see <see cref="ModelExecutor"/>).</summary>
    public SingleRankExecutor Executor => ModelExecutor as SingleRankExecutor
        ?? throw new NotSupportedException("this command measures one rank; run it without --tp/--pp");

    /// <summary>The executor of this replica: one rank, or a parallel group (<see cref="Parallel"/>).</summary>
    public IModelExecutor ModelExecutor { get; }

    /// <summary>The parallel group, or null for a single rank.</summary>
    public IParallelExecutor? Parallel => ModelExecutor as IParallelExecutor;
    public LlmEngine Engine { get; }
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Model name as the API reports it: the folder's name.</summary>
    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Directory));

    /// <summary>Loads a model folder. Errors name the file and tensor at fault.</summary>
    public static LocalModel Load(string directory, LocalModelOptions options, ILoggerFactory? loggers = null)
    {
        loggers ??= NullLoggerFactory.Instance;
        var logger = loggers.CreateLogger<LocalModel>();
        var config = ModelConfig.Load(CheckExists(directory));
        var generation = GenerationConfig.Load(directory);
        var tokenizer = TokenizerLoader.FromModelDirectory(directory);
        var template = ChatTemplates.ChatTemplate.FromModelDirectory(directory);

        int maxPositions = MaxPositions(options, config);
        var parallel = options.Parallel;
        if (parallel.Cluster is { Rank: > 0 } worker)
            throw new NotSupportedException($"this process is rank {worker.Rank} of {worker.WorldSize} (WORLD_RANK): only rank 0 runs this command; start ranks above 0 with `granary generate --model <same folder> --tp/--pp <same>` (they serve rank 0 until it ends)");
        if (parallel.Cluster is not null || parallel.ResolveTensorParallelSize(null) * parallel.PipelineParallelSize > 1 || parallel.PipelinePartition is not null)
            return LoadParallel(directory, options, loggers, logger, config, generation, tokenizer, template, maxPositions);
        var backend = BackendFactory.Create(options.Device, options.Threads, options.Quantization);
        LlamaModel model;
        using (var checkpoint = Checkpoint.Open(directory))
        {
            checkpoint.ReportReads(options.LoadProgress);
            try
            {
                model = LlamaModel.Load(config, checkpoint, backend, ShardSpec.Whole(config.NumLayers), options.Engine.MaxBatchedTokens, maxPositions);
            }
            catch
            {
                backend.Dispose();
                throw;
            }
        }
        LogLoaded(logger, config.Architecture.ToString(), config.NumLayers, config.HiddenSize, model.WeightBytes / (1024.0 * 1024.0), backend.Name);

        var eos = EosIds(config, generation, tokenizer);
        var executor = new SingleRankExecutor(model, backend);
        var engine = new LlmEngine(executor, tokenizer, eos, options.Engine, loggers.CreateLogger<LlmEngine>());
        return new LocalModel(directory, config, tokenizer, template, executor, engine, [.. eos]);
    }

    private static LocalModel LoadParallel(string directory, LocalModelOptions options, ILoggerFactory loggers, ILogger logger, ModelConfig config, GenerationConfig? generation,
        ITokenizer tokenizer, LoadedChatTemplate? template, int maxPositions)
    {
        var parallel = options.Parallel;
        var cluster = parallel.Cluster;
        // The check before loading: every violation at once, one line each.
        var plan = ParallelPlan.Create(config, parallel.ResolveTensorParallelSize(cluster?.WorldSize), parallel.PipelineParallelSize, parallel.PipelinePartition, cluster?.WorldSize);
        int cores = options.Threads > 0 ? options.Threads : Environment.ProcessorCount;
        IParallelExecutor executor;
        if (cluster is null)
        {
            // The ranks share this process's cores: each gets its share, at least one.
            int threads = Math.Max(1, cores / plan.WorldSize);
            string[] devices = [.. Enumerable.Range(0, plan.WorldSize).Select(r => BackendFactory.RankDevice(options.Device, r))];
            string where = options.Device == "cpu" ? $"{threads} CPU threads each" : "on " + string.Join(", ", devices);
            LogPlan(logger, plan.ToString(), $"threads of this process, {where}");
            executor = new InProcessGroupExecutor(directory, plan, r => BackendFactory.Create(devices[r], threads, options.Quantization), options.Engine.MaxBatchedTokens, maxPositions, parallel.CommunicationTimeout, options.LoadProgress);
        }
        else
        {
            int threads = Math.Max(1, cores / cluster.LocalWorldSize);
            LogPlan(logger, plan.ToString(), $"processes ({cluster.Source}), this is rank 0 at {cluster.Addresses[0]}, {threads} CPU threads");
            var transport = TcpTransport.Connect(0, cluster.Addresses, parallel.ConnectTimeout);
            IBackend backend;
            try
            {
                backend = BackendFactory.Create(BackendFactory.RankDevice(options.Device, cluster.LocalRank), threads, options.Quantization);
            }
            catch
            {
                transport.Dispose();
                throw;
            }
            executor = DistributedExecutor.Create(directory, plan, backend, transport, options.Engine.MaxBatchedTokens, maxPositions, parallel.CommunicationTimeout, options.LoadProgress);
        }
        LlmEngine engine;
        var eos = EosIds(config, generation, tokenizer);
        try
        {
            engine = new LlmEngine(executor, tokenizer, eos, options.Engine, loggers.CreateLogger<LlmEngine>());
        }
        catch
        {
            executor.Dispose();
            throw;
        }
        var (blocks, blockSize) = executor.KvCache;
        long total = 0;
        foreach (var rank in executor.Ranks)
        {
            total += rank.WeightBytes;
            LogRank(logger, rank.Rank, rank.Description, rank.WeightBytes / (1024.0 * 1024.0), rank.WorkspaceBytes / (1024.0 * 1024.0), blocks, blockSize, (long)blocks * blockSize,
                rank.KvBytesPerToken * blocks * blockSize / (1024.0 * 1024.0), rank.ProcessBytes > 0 ? $"; process working set {rank.ProcessBytes / (1024.0 * 1024.0):F1} MiB" : "");
        }
        LogLoaded(logger, config.Architecture.ToString(), config.NumLayers, config.HiddenSize, total / (1024.0 * 1024.0), $"{plan.WorldSize} ranks");
        return new LocalModel(directory, config, tokenizer, template, executor, engine, [.. eos]);
    }

    /// <summary>
    /// Serves as rank <see cref="ClusterTopology.Rank"/> (&gt; 0) of a multi-process group until rank 0 ends
    /// it: runs the same checks as rank 0, connects, loads only this rank's slice and executes the plans
    /// rank 0 sends. A lost peer ends it with a <see cref="Granary.Compute.CommunicatorException"/> naming the rank.
    /// </summary>
    public static void RunWorker(string directory, LocalModelOptions options, ILoggerFactory? loggers = null, CancellationToken cancellationToken = default)
    {
        var logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger("Granary.Engine.RankWorker");
        var cluster = options.Parallel.Cluster is { Rank: > 0 } c ? c : throw new ArgumentException("RunWorker needs a cluster topology whose rank is above 0 (WORLD_RANK)");
        var config = ModelConfig.Load(CheckExists(directory));
        var parallel = options.Parallel;
        var plan = ParallelPlan.Create(config, parallel.ResolveTensorParallelSize(cluster.WorldSize), parallel.PipelineParallelSize, parallel.PipelinePartition, cluster.WorldSize);
        int threads = Math.Max(1, (options.Threads > 0 ? options.Threads : Environment.ProcessorCount) / cluster.LocalWorldSize);
        var transport = TcpTransport.Connect(cluster.Rank, cluster.Addresses, parallel.ConnectTimeout, cancellationToken);
        IBackend backend;
        try
        {
            backend = BackendFactory.Create(BackendFactory.RankDevice(options.Device, cluster.LocalRank), threads, options.Quantization);
        }
        catch
        {
            transport.Dispose();
            throw;
        }
        RankWorker.Run(directory, plan, backend, transport, parallel.CommunicationTimeout, logger, cancellationToken);
    }

    private static int MaxPositions(LocalModelOptions options, ModelConfig config) =>
        ContextLength.Resolve(config, options.Engine.MaxModelLength, options.Engine.AllowLongMaxModelLength);

    /// <summary>The ids that end an answer: config.json's, generation_config.json's and the tokenizer's end-of-sequence ids together.</summary>
    public static SortedSet<int> EosIds(ModelConfig config, GenerationConfig? generation, ITokenizer tokenizer)
    {
        var eos = new SortedSet<int>(config.EosTokenIds);
        eos.UnionWith(generation?.EosTokenIds ?? []);
        eos.UnionWith(tokenizer.EosTokenIds);
        return eos;
    }

    /// <summary>Encodes a chat as the server does (see <see cref="ChatPrompt"/>: the plain contents when the model has no chat template).</summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages) => ChatPrompt.Encode(Tokenizer, ChatTemplate, messages);

    public void Dispose() => Engine.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Parallel plan: {Plan}, ranks as {Where}")]
    private static partial void LogPlan(ILogger logger, string plan, string where);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rank {Rank}: {Share}; {WeightMiB:F2} MiB of weights, {WorkspaceMiB:F2} MiB of activations; KV cache {Blocks} blocks x {BlockSize} = {Tokens} token slots ({KvMiB:F2} MiB){Process}")]
    private static partial void LogRank(ILogger logger, int rank, string share, double weightMiB, double workspaceMiB, int blocks, int blockSize, long tokens, double kvMiB, string process);

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Architecture}: {Layers} layers, hidden {Hidden}, {WeightMiB:F1} MiB of weights on {Backend}")]
    private static partial void LogLoaded(ILogger logger, string architecture, int layers, int hidden, double weightMiB, string backend);

    /// <summary>The path when it is a model folder or a GGUF file; else a <see cref="DirectoryNotFoundException"/> that says so.</summary>
    public static string CheckExists(string path) =>
        System.IO.Directory.Exists(path) || Checkpoint.IsGguf(path) ? path : throw new DirectoryNotFoundException($"model folder or .gguf file '{path}' does not exist");
}

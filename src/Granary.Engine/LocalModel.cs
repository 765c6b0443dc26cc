using Granary.ChatTemplates;
using Granary.Models;
using Granary.Models.Checkpoints;
using Granary.Models.Llama;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Engine;

/// <summary>
/// A Hugging Face model folder loaded in this process: config, weights on the CPU backend, tokenizer,
/// chat template and an engine over them.
/// </summary>
public sealed partial class LocalModel : IDisposable
{
    private LocalModel(string directory, ModelConfig config, ITokenizer tokenizer, LoadedChatTemplate? template, SingleRankExecutor executor, LlmEngine engine, IReadOnlyList<int> eos)
    {
        Directory = directory;
        Config = config;
        Tokenizer = tokenizer;
        ChatTemplate = template;
        Executor = executor;
        Engine = engine;
        EosTokenIds = eos;
    }

    public string Directory { get; }
    public ModelConfig Config { get; }
    public ITokenizer Tokenizer { get; }
    public LoadedChatTemplate? ChatTemplate { get; }
    public SingleRankExecutor Executor { get; }
    public LlmEngine Engine { get; }
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Model name as the API reports it: the folder's name.</summary>
    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Directory));

    /// <summary>Loads a model folder. Errors name the file and tensor at fault.</summary>
    public static LocalModel Load(string directory, LocalModelOptions options, ILoggerFactory? loggers = null)
    {
        loggers ??= NullLoggerFactory.Instance;
        var logger = loggers.CreateLogger<LocalModel>();
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"model folder '{directory}' does not exist");
        var config = ModelConfig.Load(directory);
        var generation = GenerationConfig.Load(directory);
        var tokenizer = TokenizerLoader.FromModelDirectory(directory);
        var template = ChatTemplates.ChatTemplate.FromModelDirectory(directory);

        int maxPositions = options.Engine.MaxModelLength > 0 ? Math.Min(options.Engine.MaxModelLength, config.MaxPositionEmbeddings) : config.MaxPositionEmbeddings;
        var backend = BackendFactory.Create(options.Device, options.Threads);
        LlamaModel model;
        using (var checkpoint = Checkpoint.Open(directory))
        {
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

        var eos = new SortedSet<int>(config.EosTokenIds);
        eos.UnionWith(generation?.EosTokenIds ?? []);
        eos.UnionWith(tokenizer.EosTokenIds);
        var executor = new SingleRankExecutor(model, backend);
        var engine = new LlmEngine(executor, tokenizer, eos, options.Engine, loggers.CreateLogger<LlmEngine>());
        return new LocalModel(directory, config, tokenizer, template, executor, engine, [.. eos]);
    }

    /// <summary>Renders messages through the chat template and encodes them (the template writes its own BOS).</summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages)
    {
        var template = ChatTemplate ?? throw new InvalidOperationException($"{Directory} has no chat template");
        return Tokenizer.Encode(template.Render(messages, addGenerationPrompt: true), addSpecialTokens: false);
    }

    public void Dispose() => Engine.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Architecture}: {Layers} layers, hidden {Hidden}, {WeightMiB:F1} MiB of weights on {Backend}")]
    private static partial void LogLoaded(ILogger logger, string architecture, int layers, int hidden, double weightMiB, string backend);
}

using Granary.ChatTemplates;
using Granary.Engine;
using Granary.Tokenizers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Serving;

/// <summary>Requests run on a <see cref="LocalModel"/> of this process, through an <see cref="AsyncEngine"/> (the embedded default).</summary>
public sealed class LocalGenerationService : IGenerationService
{
    private readonly LocalModel _model;

    /// <summary>Starts the engine loop over <paramref name="model"/>; the model stays the caller's to dispose, after this service.</summary>
    public LocalGenerationService(LocalModel model, AsyncEngineOptions? options = null, ILoggerFactory? loggers = null)
    {
        _model = model;
        Engine = new AsyncEngine(model.Engine, options, (loggers ?? NullLoggerFactory.Instance).CreateLogger<AsyncEngine>());
        Engine.Metrics.ModelName = model.Name;
    }

    /// <summary>The engine loop (tests read its metrics).</summary>
    public AsyncEngine Engine { get; }

    public string ModelName => _model.Name;
    public string ModelDirectory => _model.Directory;
    public ITokenizer Tokenizer => _model.Tokenizer;
    public LoadedChatTemplate? ChatTemplate => _model.ChatTemplate;
    public int MaxModelLength => Engine.MaxModelLength;
    public bool IsReady => Engine.IsRunning;
    public ServingMetrics Metrics => Engine.Metrics;

    public string Describe()
    {
        var blocks = _model.Engine.Blocks;
        return $"KV cache {blocks.TotalBlocks} blocks x {blocks.BlockSize} tokens = {(long)blocks.TotalBlocks * blocks.BlockSize} token slots; max model length {MaxModelLength}";
    }

    public GenerationHandle Submit(GenerationRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return Engine.Submit(request, cancellationToken);
        }
        catch (ObjectDisposedException)
        {
            throw new ServiceUnavailableException("the server is shutting down");
        }
    }

    public void Dispose() => Engine.Dispose();
}

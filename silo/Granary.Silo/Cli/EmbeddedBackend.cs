using System.Runtime.CompilerServices;
using Granary.ChatTemplates;
using Granary.Engine;
using Granary.Serving;
using Microsoft.Extensions.Logging;

namespace Granary.Silo.Cli;

/// <summary>
/// Text from the model loaded in this process (no server): the same <see cref="LocalModel"/> and
/// <see cref="AsyncEngine"/> that <c>granary serve</c> runs, so prompts are tokenized and sampled as the server does.
/// </summary>
internal sealed class EmbeddedBackend : IGenerationBackend
{
    private readonly ILoggerFactory _loggers;
    private readonly LocalModel _model;
    private readonly AsyncEngine _engine;

    public EmbeddedBackend(string directory, LocalModelOptions options)
    {
        _loggers = CliLogging.Create(quiet: true);
        try
        {
            _model = LocalModel.Load(directory, options, _loggers);
            _engine = new AsyncEngine(_model.Engine, new AsyncEngineOptions(), _loggers.CreateLogger<AsyncEngine>());
        }
        catch
        {
            _model?.Dispose();
            _loggers.Dispose();
            throw;
        }
        Description = $"{_model.Name} (in this process)";
    }

    public string Description { get; }

    public IAsyncEnumerable<string> CompleteAsync(string prompt, GenerationSettings settings, CancellationToken cancellationToken) =>
        GenerateAsync(_model.Tokenizer.Encode(prompt, addSpecialTokens: true), settings, defaultMaxTokens: 16, cancellationToken);

    public IAsyncEnumerable<string> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationSettings settings, CancellationToken cancellationToken) =>
        GenerateAsync(_model.EncodeChat(messages), settings, defaultMaxTokens: int.MaxValue, cancellationToken);

    private async IAsyncEnumerable<string> GenerateAsync(int[] prompt, GenerationSettings settings, int defaultMaxTokens, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int context = _engine.MaxModelLength;
        if (prompt.Length >= context)
            throw new ArgumentException($"the prompt has {prompt.Length} tokens and the model's context is {context}: no room for an answer");
        int room = context - prompt.Length;
        if (settings.MaxTokens is { } asked && asked > room)
            throw new ArgumentException($"--max-tokens {asked} does not fit: the prompt has {prompt.Length} tokens and the model's context is {context}");
        var sampling = new SamplingParams
        {
            MaxTokens = settings.MaxTokens ?? Math.Min(defaultMaxTokens, room),
            Temperature = settings.Temperature ?? 1f,
            TopP = settings.TopP ?? 1f,
            TopK = settings.TopK is null or -1 ? 0 : settings.TopK.Value,
            Seed = settings.Seed,
            Stop = settings.Stop,
            IgnoreEos = settings.IgnoreEos,
        };
        sampling.Validate();
        // Disposing the handle (the loop ends, fails or is cancelled) aborts whatever still runs and frees its KV blocks.
        using var handle = _engine.Submit(new GenerationRequest { Prompts = [prompt], Sampling = sampling, Stream = true }, cancellationToken);
        await foreach (var e in handle.Events.ReadAllAsync(cancellationToken))
        {
            if (e.Error is not null) throw e.IsBadRequest ? new ArgumentException(e.Error) : new InvalidOperationException(e.Error);
            if (e.Text.Length > 0) yield return e.Text;
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    public ValueTask DisposeAsync()
    {
        _engine.Dispose();
        _model.Dispose();
        _loggers.Dispose();
        return ValueTask.CompletedTask;
    }
}

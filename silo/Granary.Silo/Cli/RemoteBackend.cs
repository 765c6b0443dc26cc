using System.Runtime.CompilerServices;
using Granary.ChatTemplates;
using Granary.Client;
using Granary.Client.Models;
using Microsoft.Extensions.Logging;

namespace Granary.Silo.Cli;

/// <summary>Text from a Granary gateway through the client SDK (retries, failover, API key).</summary>
internal sealed class RemoteBackend : IGenerationBackend
{
    private readonly GranaryClient _client;
    private readonly ILoggerFactory _loggers;

    private RemoteBackend(GranaryClient client, ILoggerFactory loggers, string description)
    {
        _client = client;
        _loggers = loggers;
        Description = description;
    }

    public string Description { get; }

    /// <summary>Connects and asks for the served model, so a wrong URL or key fails here with one clear line.</summary>
    public static async Task<RemoteBackend> ConnectAsync(IReadOnlyList<string> urls, string? apiKey, string? model, CancellationToken cancellationToken)
    {
        var endpoints = urls.Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : throw new ArgumentException($"--base-url '{u}' is not an absolute URL")).ToList();
        var loggers = CliLogging.Create(quiet: true);
        var client = new GranaryClient(new GranaryClientOptions { Endpoints = endpoints, ApiKey = apiKey, Model = model }, loggers.CreateLogger<GranaryClient>());
        try
        {
            var models = await client.ListModelsAsync(cancellationToken);
            string name = model ?? (models.Data.Count > 0 ? models.Data[0].Id : "the served model");
            return new RemoteBackend(client, loggers, $"{name} at {client.CurrentEndpoint}");
        }
        catch
        {
            client.Dispose();
            loggers.Dispose();
            throw;
        }
    }

    public async IAsyncEnumerable<string> CompleteAsync(string prompt, GenerationSettings settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = Apply(new CompletionRequest { Prompt = prompt }, settings);
        await foreach (var chunk in _client.CompleteStreamingAsync(request, cancellationToken: cancellationToken))
        {
            if (chunk.Text.Length > 0) yield return chunk.Text;
        }
    }

    public async IAsyncEnumerable<string> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationSettings settings, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = Apply(new ChatCompletionRequest { Messages = [.. messages.Select(m => new ChatRequestMessage { Role = m.Role, Content = m.Content })] }, settings);
        await foreach (var chunk in _client.CompleteChatStreamingAsync(request, cancellationToken: cancellationToken))
        {
            if (chunk.ContentDelta.Length > 0) yield return chunk.ContentDelta;
        }
    }

    private static T Apply<T>(T request, GenerationSettings settings) where T : GenerationRequest
    {
        request.MaxTokens = settings.MaxTokens;
        request.Temperature = settings.Temperature;
        request.TopP = settings.TopP;
        request.TopK = settings.TopK;
        request.Seed = settings.Seed;
        request.Stop = settings.Stop.Count > 0 ? [.. settings.Stop] : null;
        request.IgnoreEos = settings.IgnoreEos ? true : null;
        return request;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _loggers.Dispose();
        return ValueTask.CompletedTask;
    }
}

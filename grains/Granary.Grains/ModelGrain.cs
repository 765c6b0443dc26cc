using System.Runtime.CompilerServices;
using System.Text.Json;
using Granary.Client.Orleans;
using Granary.Engine;
using Granary.Serving;
using Granary.Serving.Api;
using Orleans.Concurrency;

namespace Granary.Grains;

/// <summary>
/// <see cref="IModelGrain"/>: Orleans clients' requests, validated as the OpenAI server validates its bodies (the same
/// <see cref="RequestParser"/>, the same messages), run through the silo's <see cref="ClusterGateway"/> for the
/// deployment (routing, and resuming on another replica when one fails).
/// </summary>
[StatelessWorker, Reentrant]
internal sealed class ModelGrain(ModelGateways gateways) : Grain, IModelGrain
{
    private static readonly ServeOptions Limits = new();

    public async IAsyncEnumerable<GranaryChunk> GenerateAsync(GranaryRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var gateway = await gateways.ForExistingAsync(this.GetPrimaryKeyString(), cancellationToken);
        var generation = Prepare(gateway, request);
        GenerationHandle handle;
        try
        {
            handle = gateway.Submit(generation, cancellationToken);
        }
        catch (QueueFullException e)
        {
            throw new GranaryRequestException($"the deployment is busy ({e.Message}); try again shortly", null, "rate_limit_exceeded");
        }
        using (handle)
        {
            await foreach (var e in handle.Events.ReadAllAsync(cancellationToken))
            {
                if (e.Error is not null)
                {
                    if (e.IsBadRequest) throw new GranaryRequestException(e.Error, null, "invalid_request");
                    if (e.IsBusy) throw new GranaryRequestException($"the deployment is busy ({e.Error})", null, "rate_limit_exceeded");
                    throw new InvalidOperationException($"the request failed: {e.Error}");
                }
                yield return new GranaryChunk
                {
                    Text = e.Text,
                    TokenIds = e.TokenIds,
                    FinishReason = e.FinishReason switch { FinishReason.Stop => "stop", FinishReason.Length => "length", null => null, var other => other.ToString()!.ToLowerInvariant() },
                    PromptTokens = e.PromptTokens,
                    CompletionTokens = e.CompletionTokens,
                };
            }
        }
    }

    /// <summary>The engine request, or a <see cref="GranaryRequestException"/> with the OpenAI server's message.</summary>
    private static GenerationRequest Prepare(ClusterGateway gateway, GranaryRequest request)
    {
        if (request.Prompt is null == request.Messages is null) throw new GranaryRequestException("a request has either a prompt or messages", "prompt", "invalid_request");
        if (request.Prompt is { Length: 0 }) throw new GranaryRequestException("prompt must not be empty", "prompt", "invalid_request");
        var o = request.Options ?? new GranaryGenerationOptions();
        try
        {
            var parser = new RequestParser(gateway.Tokenizer, gateway.ChatTemplate, gateway.MaxModelLength, [gateway.ModelName], Limits);
            JsonElement? stop = o.Stop is null ? null : JsonSerializer.SerializeToElement(o.Stop);
            var prepared = request.Prompt is { } prompt
                ? parser.Completion(new CompletionRequest { Prompt = JsonSerializer.SerializeToElement(prompt), MaxTokens = o.MaxTokens, Temperature = o.Temperature, TopP = o.TopP, TopK = o.TopK, Seed = o.Seed, Stop = stop, Stream = true })
                : parser.Chat(new ChatCompletionRequest
                {
                    Messages = [.. request.Messages!.Select(m => new ChatMessageBody { Role = m.Role, Content = JsonSerializer.SerializeToElement(m.Content) })],
                    MaxTokens = o.MaxTokens, Temperature = o.Temperature, TopP = o.TopP, TopK = o.TopK, Seed = o.Seed, Stop = stop, Stream = true,
                });
            var generation = prepared.Generation with { Stream = true };
            return request.ResumeTokenIds is { Length: > 0 } resumed
                ? generation with { Resume = [new ChoiceResume(0, resumed, request.ResumeSentChars, Finished: false)] }
                : generation;
        }
        catch (ServiceUnavailableException e)
        {
            throw new InvalidOperationException(e.Message);
        }
        catch (ApiException e)
        {
            throw new GranaryRequestException(e.Message, e.Param, e.Code ?? (e.Status == 404 ? "model_not_found" : "invalid_request"));
        }
    }
}

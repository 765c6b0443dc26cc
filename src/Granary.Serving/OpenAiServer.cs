using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Granary.Engine;
using Granary.Serving.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Granary.Serving;

/// <summary>
/// The OpenAI-compatible HTTP server over an <see cref="IGenerationService"/> (a model in this process, or a
/// cluster's replicas): Kestrel with minimal APIs, /v1/models, /v1/completions, /v1/chat/completions (streamed
/// as server-sent events or not), /health, /ready and /metrics. A server that builds its own host owns the service; one
/// mapped onto another host (a gateway silo's, where Orleans runs too) leaves both to that host's owner.
/// </summary>
public sealed partial class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IGenerationService _service;
    /// <summary>Whether this server built the host (then it starts, stops and disposes it, and the service) or was mapped onto a host of its caller's.</summary>
    private readonly bool _ownsHost;
    private readonly ServeOptions _options;
    private readonly ILogger _logger;
    private ModelBinding? _binding;
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly byte[]? _apiKey;
    /// <summary>The method each fixed route answers, so that another method gets 405 rather than 404.</summary>
    private readonly Dictionary<string, string> _routes = [];

    private OpenAiServer(WebApplication app, IGenerationService service, bool ownsHost, ServeOptions options, ILoggerFactory loggers)
    {
        _app = app;
        _service = service;
        _ownsHost = ownsHost;
        _options = options;
        _logger = loggers.CreateLogger<OpenAiServer>();
        _apiKey = options.ApiKey is { Length: > 0 } key ? Encoding.UTF8.GetBytes("Bearer " + key) : null;
        _app.Use(GuardAsync);
        Map("GET", "/health", Health);
        Map("GET", "/ready", Health);
        ServerTelemetry.MapEndpoint(_app);
        _routes.Add(ServerTelemetry.MetricsPath, "GET");
        Map("GET", "/v1/models", ctx => WriteJsonAsync(ctx, 200, Models(), ResponseJson.ModelList));
        // Ids may hold slashes (Hugging Face names): the rest of the path is the id.
        _app.MapGet("/v1/models/{**id}", (HttpContext ctx, string id) => RetrieveModelAsync(ctx, id));
        Map("POST", "/v1/completions", ctx => GenerateAsync(ctx, chat: false));
        Map("POST", "/v1/chat/completions", ctx => GenerateAsync(ctx, chat: true));
        _app.MapFallback(NoRouteAsync);
        // Whoever starts the host, the line that says where the API listens comes once it does.
        _app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (TryBind() is { } binding) LogServing(binding.Name, string.Join(", ", Urls), _service.Describe());
            else LogListening(string.Join(", ", Urls), _service.Describe());
        });
    }

    /// <summary>What runs the requests.</summary>
    public IGenerationService Service => _service;

    /// <summary>The listening addresses, once started (with the real port when 0 was asked).</summary>
    public IReadOnlyList<string> Urls => [.. _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses];

    /// <summary>
    /// The served model's name and request parser, made once the service knows its model (a cluster gateway may
    /// start before anything is deployed); null until then.
    /// </summary>
    private ModelBinding? TryBind()
    {
        if (_binding is { } bound) return bound;
        try
        {
            string name = _options.ServedModelName ?? _service.ModelName;
            string[] names = [name, _service.ModelName, _service.ModelDirectory, Path.TrimEndingDirectorySeparator(_service.ModelDirectory)];
            var parser = new RequestParser(_service.Tokenizer, _service.ChatTemplate, _service.MaxModelLength, names.Distinct().ToArray(), _options);
            if (_service.ChatTemplate is null) LogNoChatTemplate(name);
            _service.Metrics.ModelName = name;
            return _binding = new ModelBinding(name, parser);
        }
        catch (ServiceUnavailableException)
        {
            return null;
        }
    }

    private sealed record ModelBinding(string Name, RequestParser Parser);

    /// <summary>API key check, and a last line of defence: an exception becomes a 500 body, never a dead server.</summary>
    private async Task GuardAsync(HttpContext ctx, RequestDelegate next)
    {
        if (_apiKey is not null && ctx.Request.Path.StartsWithSegments("/v1"))
        {
            string header = ctx.Request.Headers.Authorization.ToString();
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), _apiKey))
            {
                _service.Metrics.CountRequest(Endpoint(ctx), 401);
                await WriteErrorAsync(ctx, new ApiException(401, "Incorrect or missing API key: send 'Authorization: Bearer <key>'.", code: "invalid_api_key"));
                return;
            }
        }
        try
        {
            await next(ctx);
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            LogUnhandled(e, ctx.Request.Path);
            await WriteErrorAsync(ctx, new ApiException(500, $"internal error: {e.Message}"));
        }
    }

    private static string Endpoint(HttpContext ctx) => ctx.Request.Path.Value switch
    {
        "/v1/completions" => "completions",
        "/v1/chat/completions" => "chat_completions",
        "/v1/models" => "models",
        _ => "other",
    };

    private async Task GenerateAsync(HttpContext ctx, bool chat)
    {
        string endpoint = chat ? "chat_completions" : "completions";
        int status = 200;
        // The request's span (under ASP.NET Core's), only while a tracer listens.
        using var activity = GranaryTelemetry.Source.StartActivity("granary." + endpoint);
        try
        {
            CheckContentType(ctx.Request);
            byte[] body = await ReadBodyAsync(ctx);
            var parser = (TryBind() ?? throw new ApiException(503, "no model is deployed yet", code: "service_unavailable")).Parser;
            var request = chat ? parser.Chat(RequestParser.Parse(body, OpenAiJsonContext.Default.ChatCompletionRequest))
                : parser.Completion(RequestParser.Parse(body, OpenAiJsonContext.Default.CompletionRequest));
            activity?.SetTag("gen_ai.request.model", request.Model).SetTag("gen_ai.usage.input_tokens", request.PromptTokens)
                .SetTag("gen_ai.request.choice.count", request.Generation.Sequences).SetTag("granary.stream", request.Stream);
            GenerationHandle handle;
            try
            {
                handle = _service.Submit(request.Generation, ctx.RequestAborted);
            }
            catch (QueueFullException e)
            {
                throw new ApiException(429, e.Message, code: "queue_full");
            }
            catch (ServiceUnavailableException e)
            {
                throw new ApiException(503, e.Message, code: "service_unavailable");
            }
            catch (ArgumentException e)
            {
                throw new ApiException(400, e.Message);
            }
            using (handle)
            {
                string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
                if (request.Stream) await StreamAsync(ctx, handle, request, id, chat);
                else if (chat) await WriteJsonAsync(ctx, 200, await ChatAsync(handle, request, id, ctx.RequestAborted), ResponseJson.ChatCompletionResponse);
                else await WriteJsonAsync(ctx, 200, await CompletionAsync(handle, request, id, ctx.RequestAborted), ResponseJson.CompletionResponse);
            }
        }
        catch (ApiException e)
        {
            status = e.Status;
            if (!ctx.Response.HasStarted)
            {
                if (status == 429) ctx.Response.Headers.RetryAfter = _options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await WriteErrorAsync(ctx, e);
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            status = 499; // the client went away; its request was aborted when the handle was disposed
        }
        catch (IOException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            status = 499;
        }
        finally
        {
            _service.Metrics.CountRequest(endpoint, status);
            activity?.SetTag("http.response.status_code", status);
            if (status >= 400) activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
        }
    }

    private static ApiException Failure(GenerationEvent e) => e.IsBadRequest ? new ApiException(400, e.Error!)
        : e.IsBusy ? new ApiException(429, e.Error!, code: "queue_full")
        : new ApiException(503, e.Error!, code: "engine_error");

    private static Task WriteErrorAsync(HttpContext ctx, ApiException e)
    {
        var body = new ErrorResponse { Error = new ErrorBody { Message = e.Message, Type = e.Type, Param = e.Param, Code = e.Code } };
        return WriteJsonAsync(ctx, e.Status, body, ResponseJson.ErrorResponse);
    }

    private static async Task WriteJsonAsync<T>(HttpContext ctx, int status, T value, JsonTypeInfo<T> type)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(ctx.Response.Body, value, type);
    }

    private static string? FinishReason(FinishReason? reason) => reason switch
    {
        Granary.Engine.FinishReason.Stop => "stop",
        Granary.Engine.FinishReason.Length => "length",
        Granary.Engine.FinishReason.Abort => "abort",
        _ => null,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving {Model} on {Urls}; {Where}")]
    private partial void LogServing(string model, string urls, string where);

    [LoggerMessage(Level = LogLevel.Information, Message = "The API listens on {Urls}; {Where}")]
    private partial void LogListening(string urls, string where);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutting down: no new requests, running ones get 5 s to finish")]
    private partial void LogShuttingDown();

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped")]
    private partial void LogStopped();

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Model}: " + ChatPrompt.NoTemplateFallback)]
    private partial void LogNoChatTemplate(string model);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error serving {Path}")]
    private partial void LogUnhandled(Exception e, string path);
}

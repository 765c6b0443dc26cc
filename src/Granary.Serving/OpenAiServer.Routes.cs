using Granary.Serving.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Granary.Serving;

/// <summary>Routes, models, health and request-body checks of the server.</summary>
public sealed partial class OpenAiServer
{
    private void Map(string method, string path, RequestDelegate handler)
    {
        _routes.Add(path, method);
        _app.MapMethods(path, [method], handler);
    }

    private Task NoRouteAsync(HttpContext ctx)
    {
        string path = ctx.Request.Path.Value ?? "";
        if (!_routes.TryGetValue(path, out string? method)) return WriteErrorAsync(ctx, new ApiException(404, $"no route for {ctx.Request.Method} {path}", code: "not_found"));
        ctx.Response.Headers.Allow = method;
        return WriteErrorAsync(ctx, new ApiException(405, $"{ctx.Request.Method} is not allowed on {path}: use {method}", code: "method_not_allowed"));
    }

    private ModelList Models() => new()
    {
        Data = TryBind() is { } binding ? [Card(binding)] : [],
    };

    private ModelCard Card(ModelBinding binding) => new() { Id = binding.Name, Created = _created, MaxModelLen = _service.MaxModelLength };

    /// <summary>GET /v1/models/{id} (the SDKs' models.retrieve): the card of the served model under any of its names.</summary>
    private Task RetrieveModelAsync(HttpContext ctx, string id)
    {
        if (TryBind() is { } binding && binding.Parser.Serves(id)) return WriteJsonAsync(ctx, 200, Card(binding), ResponseJson.ModelCard);
        return WriteErrorAsync(ctx, new ApiException(404, $"The model '{id}' does not exist.", "model", "model_not_found"));
    }

    private Task Health(HttpContext ctx)
    {
        ctx.Response.StatusCode = _service.IsReady ? 200 : 503;
        return Task.CompletedTask;
    }

    private async Task<byte[]> ReadBodyAsync(HttpContext ctx)
    {
        long limit = _options.MaxRequestBodyBytes;
        if (ctx.Request.ContentLength > limit) throw TooLarge(limit);
        using var buffer = new MemoryStream();
        try
        {
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413)
        {
            throw TooLarge(limit);
        }
        if (buffer.Length > limit) throw TooLarge(limit);
        return buffer.ToArray();
    }

    /// <summary>The body must be JSON: a form or plain text is refused (a missing Content-Type is read as JSON).</summary>
    private static void CheckContentType(HttpRequest request)
    {
        if (request.ContentType is null || request.HasJsonContentType()) return;
        throw new ApiException(415, $"Content-Type '{request.ContentType}' is not supported: send the body as JSON with 'Content-Type: application/json'", code: "unsupported_media_type");
    }

    private static ApiException TooLarge(long limit) => new(413, $"the request body is larger than {limit} bytes", code: "request_too_large");
}

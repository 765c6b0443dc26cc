using System.Net;

namespace Granary.Client;

/// <summary>
/// The gateway refused or failed a request: the HTTP status and the fields of OpenAI's error body
/// (<c>{"error":{"message","type","param","code"}}</c>).
/// </summary>
public sealed class GranaryApiException : Exception
{
    /// <summary>Creates the exception from the fields of an error answer.</summary>
    public GranaryApiException(HttpStatusCode? statusCode, string message, string? type = null, string? code = null, string? param = null, TimeSpan? retryAfter = null)
        : base(message)
    {
        StatusCode = statusCode;
        Type = type;
        Code = code;
        Param = param;
        RetryAfter = retryAfter;
    }

    /// <summary>The HTTP status; null when the error arrived as an event inside a stream that had started with 200.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>OpenAI's error type, e.g. <c>invalid_request_error</c>, <c>rate_limit_error</c>, <c>server_error</c>.</summary>
    public string? Type { get; }

    /// <summary>OpenAI's error code, e.g. <c>context_length_exceeded</c>, <c>model_not_found</c>, <c>queue_full</c>.</summary>
    public string? Code { get; }

    /// <summary>The request field at fault, when the server names one.</summary>
    public string? Param { get; }

    /// <summary>How long the server asked to wait (<c>Retry-After</c>), on 429 and 503.</summary>
    public TimeSpan? RetryAfter { get; }
}

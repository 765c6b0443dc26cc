namespace Granary.Serving;

/// <summary>A request the server refuses, with the HTTP status and the OpenAI error fields to send.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status => status;
    public string? Param => param;
    public string? Code => code;

    /// <summary>OpenAI's error type for the status.</summary>
    public string Type => status switch
    {
        401 => "authentication_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };
}

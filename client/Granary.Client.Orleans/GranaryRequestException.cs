namespace Granary.Client.Orleans;

/// <summary>The cluster refused a request: an unknown model, a bad parameter, a prompt too long. Not retried.</summary>
[GenerateSerializer]
public sealed class GranaryRequestException : Exception
{
    /// <summary>A refusal with OpenAI's parameter and code.</summary>
    public GranaryRequestException(string message, string? param, string? code) : base(message)
    {
        Param = param;
        Code = code;
    }

    /// <summary>The parameter at fault (OpenAI's <c>param</c>), when there is one.</summary>
    [Id(0)] public string? Param { get; }

    /// <summary>OpenAI's error code, e.g. model_not_found, context_length_exceeded.</summary>
    [Id(1)] public string? Code { get; }
}

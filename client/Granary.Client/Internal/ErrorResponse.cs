namespace Granary.Client.Internal;

/// <summary>OpenAI's error body: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed class ErrorResponse
{
    public ErrorBody? Error { get; set; }
}

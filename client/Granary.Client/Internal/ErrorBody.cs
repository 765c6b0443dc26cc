namespace Granary.Client.Internal;

/// <summary>The fields of an OpenAI error.</summary>
internal sealed class ErrorBody
{
    public string? Message { get; set; }
    public string? Type { get; set; }
    public string? Param { get; set; }
    public string? Code { get; set; }
}

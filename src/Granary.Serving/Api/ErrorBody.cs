namespace Granary.Serving.Api;

public sealed class ErrorBody
{
    public required string Message { get; set; }
    public required string Type { get; set; }
    public string? Param { get; set; }
    public string? Code { get; set; }
}

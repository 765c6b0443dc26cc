namespace Granary.Serving.Api;

public sealed class ChatResponseMessage
{
    public string Role { get; set; } = "assistant";
    public string? Content { get; set; }
}

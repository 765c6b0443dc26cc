using System.Text.Json;

namespace Granary.Serving.Api;

/// <summary>One message of a chat request; <c>content</c> is a string or an array of <c>{"type":"text","text":...}</c> parts.</summary>
public sealed class ChatMessageBody
{
    public string? Role { get; set; }
    public JsonElement? Content { get; set; }
    public string? Name { get; set; }
}

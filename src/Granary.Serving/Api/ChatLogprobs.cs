namespace Granary.Serving.Api;

public sealed class ChatLogprobs
{
    public List<ChatTokenLogprob> Content { get; set; } = [];
}

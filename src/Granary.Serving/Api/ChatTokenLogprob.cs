namespace Granary.Serving.Api;

public sealed class ChatTokenLogprob
{
    public required string Token { get; set; }
    public float Logprob { get; set; }
    public int[]? Bytes { get; set; }
    public List<ChatTopLogprob> TopLogprobs { get; set; } = [];
}

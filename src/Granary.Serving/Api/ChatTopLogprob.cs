namespace Granary.Serving.Api;

public sealed class ChatTopLogprob
{
    public required string Token { get; set; }
    public float Logprob { get; set; }
    public int[]? Bytes { get; set; }
}

namespace Granary.Serving.Api;

public sealed class ModelCard
{
    public required string Id { get; set; }
    public string Object { get; set; } = "model";
    public long Created { get; set; }
    public string OwnedBy { get; set; } = "granary";
    /// <summary>vLLM extra: the longest prompt plus output.</summary>
    public int MaxModelLen { get; set; }
}

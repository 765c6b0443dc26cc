namespace Granary.Serving.Api;

/// <summary>GET /v1/models answer.</summary>
public sealed class ModelList
{
    public string Object { get; set; } = "list";
    public List<ModelCard> Data { get; set; } = [];
}

namespace Granary.Client.Models;

/// <summary>The <c>GET /v1/models</c> answer.</summary>
public sealed class ModelList
{
    /// <summary>Always <c>list</c>.</summary>
    public string Object { get; set; } = "list";

    /// <summary>The models the gateway serves.</summary>
    public List<ModelCard> Data { get; set; } = [];
}

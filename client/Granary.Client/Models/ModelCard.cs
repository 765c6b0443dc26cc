namespace Granary.Client.Models;

/// <summary>A model the gateway serves.</summary>
public sealed class ModelCard
{
    /// <summary>The name to send as <c>model</c>.</summary>
    public string Id { get; set; } = "";

    /// <summary>Always <c>model</c>.</summary>
    public string Object { get; set; } = "model";

    /// <summary>When the server started serving it, in Unix seconds.</summary>
    public long Created { get; set; }

    /// <summary>Who serves it (<c>granary</c>).</summary>
    public string OwnedBy { get; set; } = "";

    /// <summary>vLLM extra: the longest prompt plus output, in tokens.</summary>
    public int MaxModelLen { get; set; }
}

using Granary.Cluster;

namespace Granary.Grains;

/// <summary>Settings of one silo: its membership in a cluster and, with the gateway role, the OpenAI server it runs.</summary>
public sealed class SiloOptions
{
    /// <summary>Cluster store, identity, address, devices and the membership timings.</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>Whether this silo serves the OpenAI API (the gateway role). Default false.</summary>
    public bool Gateway { get; set; }

    /// <summary>Address the gateway listens on. Default 127.0.0.1.</summary>
    public string GatewayHost { get; set; } = "127.0.0.1";

    /// <summary>Port of the gateway; 0 picks a free one. Default 8000.</summary>
    public int GatewayPort { get; set; } = 8000;

    /// <summary>API key the gateway requires on /v1 (Bearer); null for none. Default null.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Name the gateway's API reports and accepts besides the deployment's (e.g. a Hugging Face name); null for none. Default null.</summary>
    public string? ServedModelName { get; set; }

    /// <summary>Largest request body the gateway takes; bigger ones get 413. Default 4 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 << 20;

    /// <summary>Deployment the gateway serves; null serves the cluster's only deployment. Default null.</summary>
    public string? Deployment { get; set; }
}

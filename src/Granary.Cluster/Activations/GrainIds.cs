namespace Granary.Cluster.Activations;

/// <summary>The directory ids and transport names of the grains.</summary>
public static class GrainIds
{
    /// <summary>Transport grain type of session grains (key: the replica id).</summary>
    public const string SessionType = "session";

    /// <summary>Method that streams a request's events.</summary>
    public const string GenerateMethod = "generate";

    public static string Session(string replicaId) => $"{SessionType}/{replicaId}";
}

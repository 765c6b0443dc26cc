namespace Granary.Cluster.Activations;

/// <summary>The directory ids and transport names of the grains.</summary>
public static class GrainIds
{
    /// <summary>Transport grain type of session grains (key: the replica id).</summary>
    public const string SessionType = "session";

    /// <summary>Method that streams a request's events.</summary>
    public const string GenerateMethod = "generate";

    /// <summary>Transport grain type of a replica's ranks on one silo (key: the replica id), for replicas that span silos.</summary>
    public const string ReplicaType = "replica";

    /// <summary>Method that connects and loads a silo's ranks of a replica (body: the placement, the deployment and the rank addresses).</summary>
    public const string ActivateMethod = "activate";

    /// <summary>Method that allocates the KV cache of a silo's ranks (body: blocks and block size, two int32).</summary>
    public const string KvCacheMethod = "kv";

    /// <summary>Method that runs one step on a silo's ranks (body: a step plan; answer: <c>StepReply</c>).</summary>
    public const string StepMethod = "step";

    public static string Session(string replicaId) => $"{SessionType}/{replicaId}";
}

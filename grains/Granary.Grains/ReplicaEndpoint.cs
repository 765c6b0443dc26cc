namespace Granary.Grains;

/// <summary>A replica the gateway can route to: its session grain's silo and generation.</summary>
/// <param name="Local">True when the session lives on the gateway's own silo (a method call, no socket).</param>
public sealed record ReplicaEndpoint(string Id, string Silo, string Url, long Generation, bool Local);

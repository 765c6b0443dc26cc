namespace Granary.Grains.Contracts;

/// <summary>A session or rank grain was called for a replica that does not serve on that silo (stopped, not loaded yet, or placed again).</summary>
[GenerateSerializer]
public sealed class ReplicaNotServingException : Exception
{
    public ReplicaNotServingException(string message) : base(message) { }
}

namespace Granary.Cluster.Transport;

/// <summary>Thrown by a grain handler when this silo holds no activation of the grain; the caller gets <see cref="GrainCallFailure.NotFound"/>.</summary>
public sealed class GrainNotFoundException : Exception
{
    public GrainNotFoundException(string grainType, string grainKey)
        : base($"no activation of {grainType}/{grainKey} on this silo")
    {
        GrainType = grainType;
        GrainKey = grainKey;
    }

    public GrainNotFoundException(string message) : base(message) { }

    public string? GrainType { get; }

    public string? GrainKey { get; }
}

namespace Granary.Grains.Contracts;

/// <summary>How a replica whose session lives on a silo stands there: loading, serving, or failed to load (with why).</summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaState([property: Id(0)] string Id, [property: Id(1)] long Generation, [property: Id(2)] bool Ready, [property: Id(3)] string? Error);

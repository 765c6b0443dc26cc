namespace Granary.Cluster.Activations;

/// <summary>Where a grain is active: the silo (its membership key) and the generation of what it activated.</summary>
/// <param name="GrainId">"{type}/{key}", e.g. "session/llama/0".</param>
/// <param name="Silo">Membership key of the silo holding it.</param>
/// <param name="Url">That silo's endpoint (HTTP/2).</param>
/// <param name="Generation">For a replica's grains, the placement generation they serve.</param>
public sealed record GrainActivation(string GrainId, string Silo, string Url, long Generation);

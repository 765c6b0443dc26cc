using Granary.Engine;

namespace Granary.Grains.Contracts;

/// <summary>
/// One item of a session's answer stream: an event of the request, or, as the only item, word that the replica's
/// queue is full (the gateway then tries another replica without counting this one as failed).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SessionReply
{
    [Id(0)] public GenerationEvent? Event { get; init; }
    [Id(1)] public string? Busy { get; init; }
}

using Granary.Engine;
using Granary.Serving;

namespace Granary.Grains;

/// <summary>
/// One frame of a session's answer stream between silos: an event of the request, or, as the only frame, word
/// that the replica's queue is full (the gateway then tries another replica without counting this one as failed).
/// </summary>
public sealed record SessionReply
{
    public GenerationEvent? Event { get; init; }
    public string? Busy { get; init; }
}

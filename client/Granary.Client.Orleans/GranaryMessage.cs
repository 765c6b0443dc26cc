namespace Granary.Client.Orleans;

/// <summary>One chat message: a role (system, user, assistant) and its text.</summary>
[GenerateSerializer, Immutable]
public sealed record GranaryMessage([property: Id(0)] string Role, [property: Id(1)] string Content);

namespace Granary.Silo.Cli;

/// <summary>The sampling flags of <c>granary chat</c> and <c>granary complete</c>; null leaves the server's (or engine's) default.</summary>
internal sealed record GenerationSettings
{
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public int? Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool IgnoreEos { get; init; }
}

namespace Granary.Engine;

/// <summary>Limits of one engine step.</summary>
public sealed class SchedulerOptions
{
    /// <summary>Most sequences running at once. Default 64.</summary>
    public int MaxSequences { get; set; } = 64;

    /// <summary>Most tokens computed in one step (prefill chunks plus decodes). Default 512.</summary>
    public int MaxBatchedTokens { get; set; } = 512;
}

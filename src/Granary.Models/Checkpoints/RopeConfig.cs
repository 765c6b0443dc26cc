namespace Granary.Models.Checkpoints;

/// <summary>Rotary position embedding settings of a model.</summary>
/// <param name="Theta">Base of the frequencies (<c>rope_theta</c>; 10000 when absent).</param>
/// <param name="Type">Frequency scheme.</param>
/// <param name="Factor">Scaling factor (<c>factor</c>) for <see cref="RopeType.Linear"/> and <see cref="RopeType.Llama3"/>; 1 for <see cref="RopeType.Default"/>.</param>
/// <param name="LowFreqFactor">Llama 3 <c>low_freq_factor</c>; 0 for other types.</param>
/// <param name="HighFreqFactor">Llama 3 <c>high_freq_factor</c>; 0 for other types.</param>
/// <param name="OriginalMaxPositionEmbeddings">Llama 3 <c>original_max_position_embeddings</c>; 0 for other types.</param>
/// <param name="PartialRotaryFactor">Fraction of each head's dimensions that is rotated (<c>partial_rotary_factor</c>; 1 when absent).</param>
public sealed record RopeConfig(
    double Theta,
    RopeType Type = RopeType.Default,
    double Factor = 1,
    double LowFreqFactor = 0,
    double HighFreqFactor = 0,
    int OriginalMaxPositionEmbeddings = 0,
    double PartialRotaryFactor = 1)
{
    /// <summary>The default base, used when a config gives none.</summary>
    public const double DefaultTheta = 10000;
}

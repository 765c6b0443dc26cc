namespace Granary.Models.Checkpoints;

/// <summary>RoPE frequency schemes (Hugging Face <c>rope_type</c>).</summary>
public enum RopeType
{
    /// <summary>Plain RoPE: inv_freq[i] = theta^(-2i/d).</summary>
    Default,
    /// <summary>Position interpolation: positions divided by <see cref="RopeConfig.Factor"/>.</summary>
    Linear,
    /// <summary>Llama 3.1 scaling: low frequencies divided by the factor, a smooth ramp between the two bands.</summary>
    Llama3,
}

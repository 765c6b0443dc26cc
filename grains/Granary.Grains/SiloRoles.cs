namespace Granary.Grains;

/// <summary>The roles this silo plays besides hosting grains: set once its gateway listens.</summary>
public sealed class SiloRoles
{
    /// <summary>The gateway's URL (OpenAI API), or null when this silo has no gateway role.</summary>
    public string? GatewayUrl { get; set; }
}

namespace Granary.Redis;

/// <summary>When SET writes the value.</summary>
public enum SetCondition
{
    /// <summary>Always (plain SET).</summary>
    Always,
    /// <summary>Only when the key does not exist (NX).</summary>
    IfNotExists,
    /// <summary>Only when the key already exists (XX).</summary>
    IfExists,
}

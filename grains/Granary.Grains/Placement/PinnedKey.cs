using Orleans.Runtime;

namespace Granary.Grains.Placement;

/// <summary>
/// Keys of pinned grains: "{local id}#{silo}", the silo as Orleans' parsable address ("host:port@generation").
/// A replica placed again gets a new generation in its local id, hence new grain identities on its new silos.
/// </summary>
public static class PinnedKey
{
    public static string Make(string localId, string silo) => $"{localId}#{silo}";

    public static string Make(string localId, SiloAddress silo) => Make(localId, silo.ToParsableString());

    /// <summary>The silo a key names; <see cref="FormatException"/> for a key that is not pinned.</summary>
    public static SiloAddress Silo(string key)
    {
        int hash = key.LastIndexOf('#');
        if (hash < 0) throw new FormatException($"'{key}' is not a pinned grain key (local#host:port@generation)");
        return SiloAddress.FromParsableString(key[(hash + 1)..]);
    }

    /// <summary>The local part of a key (what precedes the silo).</summary>
    public static string Local(string key)
    {
        int hash = key.LastIndexOf('#');
        return hash < 0 ? key : key[..hash];
    }
}

namespace Granary.Cluster.Membership;

/// <summary>The membership table as read at one moment: rows, their I-am-alive times and the table version.</summary>
public sealed class MembershipSnapshot
{
    public MembershipSnapshot(long version, long now, IReadOnlyList<SiloRow> rows, IReadOnlyDictionary<string, long> alive)
    {
        Version = version;
        Now = now;
        Rows = rows;
        Alive = alive;
    }

    public static MembershipSnapshot Empty { get; } = new(0, 0, [], new Dictionary<string, long>());

    /// <summary>Version of the table (compare-and-swap token).</summary>
    public long Version { get; }

    /// <summary>The Redis server's clock when read (Unix ms): heartbeats are stamped by the same clock.</summary>
    public long Now { get; }

    public IReadOnlyList<SiloRow> Rows { get; }
    public IReadOnlyDictionary<string, long> Alive { get; }

    public IEnumerable<SiloRow> Active => Rows.Where(r => r.Status == SiloStatus.Active);

    /// <summary>The row of <paramref name="key"/>, or null.</summary>
    public SiloRow? Find(string key)
    {
        // A loop rather than LINQ: called for every row on every refresh.
        for (int i = 0; i < Rows.Count; i++)
        {
            if (Rows[i].Key == key) return Rows[i];
        }
        return null;
    }

    /// <summary>Milliseconds since the silo's last heartbeat (long.MaxValue when none).</summary>
    public long SinceHeartbeat(string key) => Alive.TryGetValue(key, out long at) ? Math.Max(0, Now - at) : long.MaxValue;
}

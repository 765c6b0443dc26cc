using Granary.Cluster.Placement;

namespace Granary.Grains;

/// <summary>
/// Picks the replica for each request: the one with the fewest outstanding tokens (what this gateway sent it and it
/// has not finished), except that requests whose prompts start alike go to the same replica (rendezvous hashing of
/// the first tokens) while its load stays within a request's worth of the lightest, so that its prefix cache serves
/// them. Replicas that just failed are avoided until the view is refreshed without them. Thread-safe.
/// </summary>
internal sealed class ReplicaRouter
{
    /// <summary>Prompt tokens that decide the affinity: one KV block and a bit.</summary>
    private const int AffinityTokens = 32;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Load> _load = [];
    private readonly Dictionary<string, DateTime> _failedUntil = [];
    private IReadOnlyList<ReplicaPlacement> _replicas = [];
    private readonly int _sequencesPerReplica;

    /// <param name="sequencesPerReplica">Most sequences this gateway keeps in flight on one replica (running and queued).</param>
    public ReplicaRouter(int sequencesPerReplica) => _sequencesPerReplica = sequencesPerReplica;

    public IReadOnlyList<ReplicaPlacement> Replicas
    {
        get { lock (_lock) return _replicas; }
    }

    public void Update(IReadOnlyList<ReplicaPlacement> replicas)
    {
        lock (_lock)
        {
            _replicas = replicas;
            foreach (var gone in _failedUntil.Keys.Where(id => !replicas.Any(r => r.Id == id)).ToList()) _failedUntil.Remove(gone);
        }
    }

    /// <summary>Sequences and tokens this gateway has in flight, summed over the replicas.</summary>
    public (long Sequences, long Tokens) InFlight
    {
        get
        {
            lock (_lock) return (_load.Values.Sum(l => (long)l.Sequences), _load.Values.Sum(l => l.Tokens));
        }
    }

    /// <summary>
    /// Chooses a replica not in <paramref name="excluded"/> and books <paramref name="sequences"/> and <paramref name="tokens"/>
    /// on it; null when none is ready. <paramref name="full"/> tells whether every candidate was at its bound.
    /// </summary>
    public ReplicaPlacement? Pick(ReadOnlySpan<int> prompt, int sequences, long tokens, IReadOnlySet<string> excluded, out bool full)
    {
        ulong affinity = Fnv(prompt[..Math.Min(prompt.Length, AffinityTokens)], 0xcbf29ce484222325);
        lock (_lock)
        {
            full = false;
            var now = DateTime.UtcNow;
            ReplicaPlacement? lightest = null, preferred = null;
            long least = long.MaxValue;
            ulong best = 0;
            bool any = false;
            foreach (var replica in _replicas)
            {
                if (excluded.Contains(replica.Id) || _failedUntil.TryGetValue(replica.Id, out var until) && until > now) continue;
                any = true;
                var load = _load.GetValueOrDefault(replica.Id);
                if (load.Sequences + sequences > _sequencesPerReplica && load.Sequences > 0) continue;
                if (load.Tokens < least) (least, lightest) = (load.Tokens, replica);
                ulong score = Fnv(replica.Id, affinity);
                if (preferred is null || score > best) (best, preferred) = (score, replica);
            }
            if (lightest is null)
            {
                full = any;
                return null;
            }
            var chosen = preferred is not null && _load.GetValueOrDefault(preferred.Id).Tokens <= least + 2 * tokens ? preferred : lightest;
            var booked = _load.GetValueOrDefault(chosen.Id);
            _load[chosen.Id] = new Load(booked.Sequences + sequences, booked.Tokens + tokens);
            return chosen;
        }
    }

    /// <summary>Gives back what <see cref="Pick"/> booked.</summary>
    public void Release(string replicaId, int sequences, long tokens)
    {
        lock (_lock)
        {
            var load = _load.GetValueOrDefault(replicaId);
            load = new Load(load.Sequences - sequences, load.Tokens - tokens);
            if (load.Sequences <= 0 && load.Tokens <= 0) _load.Remove(replicaId);
            else _load[replicaId] = load;
        }
    }

    /// <summary>Avoids a replica that failed a request for a while (the membership will soon say whether its silo died).</summary>
    public void MarkFailed(string replicaId)
    {
        lock (_lock) _failedUntil[replicaId] = DateTime.UtcNow + TimeSpan.FromSeconds(15);
    }

    // FNV-1a: the same on every gateway, so that all of them send a prefix to the same replica.
    private static ulong Fnv(ReadOnlySpan<int> values, ulong hash)
    {
        foreach (int value in values) hash = (hash ^ (uint)value) * 0x100000001b3;
        return hash;
    }

    private static ulong Fnv(string text, ulong hash)
    {
        foreach (char c in text) hash = (hash ^ c) * 0x100000001b3;
        return hash;
    }

    private readonly record struct Load(int Sequences, long Tokens);
}

using Granary.Cluster.Membership;

namespace Granary.Cluster.Placement;

/// <summary>
/// Decides where replicas go (a pure function of the desired state, the current placement and the live silos, so it
/// is tested without a cluster). A replica's ranks are pinned to devices of the deployment's kind; a replica fits on
/// one silo when it can (its tensor-parallel group then talks in-process, with no RPC per step), preferring the silo
/// that holds the fewest replicas of that deployment so that one silo's death takes as few as possible; otherwise its
/// ranks span silos in rank order, silo by silo (tensor-parallel groups stay together as far as the devices allow).
/// </summary>
public static class PlacementPlanner
{
    /// <param name="deployments">The desired state.</param>
    /// <param name="current">What is placed now.</param>
    /// <param name="silos">The membership table's rows: only Active silos take replicas; a replica is removed once a silo of its is Dead or leaving.</param>
    /// <param name="generation">The generation given to replicas placed now (e.g. the coordinator's clock in ms); must grow.</param>
    public static PlacementChanges Plan(IReadOnlyList<DeploymentSpec> deployments, IReadOnlyList<ReplicaPlacement> current, IReadOnlyList<SiloRow> silos, long generation)
    {
        var rows = silos.ToDictionary(s => s.Key);
        var active = silos.Where(s => s.Status == SiloStatus.Active).ToDictionary(s => s.Key);
        var byName = deployments.ToDictionary(d => d.Name);
        var removed = new List<string>();
        var kept = new List<ReplicaPlacement>();
        foreach (var replica in current)
        {
            // A silo missing from the table is unknown, not dead (Redis may have lost its data and the silo not yet
            // written its row again): its replicas stay until its row says otherwise.
            bool alive = replica.Ranks.All(r => !rows.TryGetValue(r.Silo, out var silo) || silo.Status == SiloStatus.Active && silo.Devices.Contains(r.Device));
            bool wanted = byName.TryGetValue(replica.Deployment, out var spec) && spec.Layout == replica.Layout
                && (spec.AutoReplicas || Index(replica.Id) < spec.Replicas);
            if (alive && wanted) kept.Add(replica);
            else removed.Add(replica.Id);
        }

        var used = kept.SelectMany(r => r.Ranks).Select(r => (r.Silo, r.Device)).ToHashSet();
        var placed = new List<ReplicaPlacement>();
        var unplaced = new List<string>();
        foreach (var spec in deployments.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var mine = kept.Where(r => r.Deployment == spec.Name).ToList();
            var taken = mine.Select(r => Index(r.Id)).ToHashSet();
            var perSilo = mine.GroupBy(r => r.SessionSilo).ToDictionary(g => g.Key, g => g.Count());
            for (int index = 0; spec.AutoReplicas || index < spec.Replicas; index++)
            {
                if (taken.Contains(index)) continue;
                var ranks = Place(spec, active.Values, used, perSilo);
                if (ranks is null)
                {
                    if (!spec.AutoReplicas) unplaced.Add($"{ReplicaPlacement.MakeId(spec.Name, index)}: needs {spec.RanksPerReplica} free {spec.DeviceKind} devices on live silos");
                    break;
                }
                foreach (var rank in ranks) used.Add((rank.Silo, rank.Device));
                perSilo[ranks[0].Silo] = perSilo.GetValueOrDefault(ranks[0].Silo) + 1;
                placed.Add(new ReplicaPlacement { Id = ReplicaPlacement.MakeId(spec.Name, index), Deployment = spec.Name, Ranks = ranks, Generation = generation, Layout = spec.Layout });
            }
        }
        return new PlacementChanges(placed, removed, unplaced);
    }

    /// <summary>The replica index in "{deployment}/{index}" (-1 when the id is not of that form).</summary>
    public static int Index(string replicaId)
    {
        int slash = replicaId.LastIndexOf('/');
        return slash >= 0 && int.TryParse(replicaId.AsSpan(slash + 1), out int index) ? index : -1;
    }

    private static List<RankPlacement>? Place(DeploymentSpec spec, IEnumerable<SiloRow> silos, HashSet<(string, string)> used, Dictionary<string, int> perSilo)
    {
        int need = spec.RanksPerReplica;
        string prefix = spec.DeviceKind + ":";
        var free = silos
            .Select(s => (Silo: s, Devices: s.Devices.Where(d => d.StartsWith(prefix, StringComparison.Ordinal) && !used.Contains((s.Key, d))).ToList()))
            .Where(f => f.Devices.Count > 0)
            .ToList();
        var single = free.Where(f => f.Devices.Count >= need)
            .OrderBy(f => perSilo.GetValueOrDefault(f.Silo.Key))
            .ThenBy(f => f.Devices.Count)       // the tightest fit keeps larger silos whole for larger replicas
            .ThenBy(f => f.Silo.Key, StringComparer.Ordinal)
            .FirstOrDefault();
        if (single.Silo is not null) return single.Devices.Take(need).Select((d, r) => new RankPlacement(r, single.Silo.Key, d)).ToList();
        if (free.Sum(f => f.Devices.Count) < need) return null;

        var ranks = new List<RankPlacement>(need);
        foreach (var (silo, devices) in free.OrderByDescending(f => f.Devices.Count).ThenBy(f => f.Silo.Key, StringComparer.Ordinal))
        {
            foreach (string device in devices)
            {
                if (ranks.Count == need) return ranks;
                ranks.Add(new RankPlacement(ranks.Count, silo.Key, device));
            }
        }
        return ranks;
    }
}

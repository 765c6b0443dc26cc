using System.Text.Json;
using Granary.Compute.Collectives;

namespace Granary.Engine;

/// <summary>
/// The ranks of a multi-process group and where each listens, read as users of the seed systems write
/// them: env WORLD_SIZE / WORLD_RANK / LOCAL_WORLD_SIZE / START_PORT (rank r on 127.0.0.1:START_PORT+r),
/// rtp-llm's DISTRIBUTE_CONFIG_FILE (<c>{"&lt;name&gt;_part0": {"name", "ip", "port"}, ...}</c>, part0 is rank 0)
/// or MindIE's rank table (RANK_TABLE_FILE / RANKTABLEFILE: server_list / device / rank_id, port START_PORT + rank_id).
/// </summary>
public sealed record ClusterTopology(int WorldSize, int Rank, int LocalWorldSize, IReadOnlyList<PeerAddress> Addresses, string Source)
{
    /// <summary>This rank's index among the ranks on its host (the order of the addresses): which GPU it takes there.</summary>
    public int LocalRank => Addresses.Take(Rank).Count(a => a.Host == Addresses[Rank].Host);

    /// <summary>Default START_PORT.</summary>
    public const int DefaultStartPort = 29500;

    /// <summary>Reads the process environment; null when it describes no multi-process group.</summary>
    public static ClusterTopology? FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>Reads a topology from <paramref name="env"/>; null when WORLD_SIZE is unset (or 1) and no topology file is named.</summary>
    public static ClusterTopology? FromEnvironment(Func<string, string?> env)
    {
        int? worldSize = Int(env, "WORLD_SIZE");
        int startPort = Int(env, "START_PORT") ?? DefaultStartPort;
        if (startPort is < 1 or > 65535) throw new ArgumentException($"START_PORT={startPort} is not a port; use 1..65535");
        string? distribute = Empty(env("DISTRIBUTE_CONFIG_FILE"));
        string? rankTable = Empty(env("RANK_TABLE_FILE")) ?? Empty(env("RANKTABLEFILE"));

        IReadOnlyList<PeerAddress> addresses;
        string source;
        if (distribute is not null)
        {
            addresses = ReadDistributeConfig(distribute);
            source = $"DISTRIBUTE_CONFIG_FILE {distribute}";
        }
        else if (rankTable is not null)
        {
            addresses = ReadRankTable(rankTable, startPort);
            source = $"rank table {rankTable}";
        }
        else
        {
            if (worldSize is null or 1) return null;
            if (worldSize < 1) throw new ArgumentException($"WORLD_SIZE={worldSize}: use the number of ranks (at least 1)");
            if (startPort + worldSize - 1 > 65535) throw new ArgumentException($"START_PORT={startPort} leaves no room for {worldSize} ranks; use a lower START_PORT");
            addresses = Enumerable.Range(0, worldSize.Value).Select(r => new PeerAddress("127.0.0.1", startPort + r)).ToArray();
            source = $"WORLD_SIZE={worldSize}, START_PORT={startPort}";
        }
        if (worldSize is { } w && w != addresses.Count)
            throw new ArgumentException($"WORLD_SIZE={w} but the {source} lists {addresses.Count} ranks; make them agree");
        if (addresses.Count == 1 && worldSize is null) return null;

        int rank = Int(env, "WORLD_RANK") ?? Int(env, "RANK_ID") ?? Int(env, "RANK")
            ?? throw new ArgumentException($"WORLD_RANK is not set: give each process its rank 0..{addresses.Count - 1} ({source})");
        if ((uint)rank >= (uint)addresses.Count) throw new ArgumentException($"WORLD_RANK={rank} is outside 0..{addresses.Count - 1} ({source})");
        // By default the ranks sharing this rank's host share its cores.
        int local = Int(env, "LOCAL_WORLD_SIZE") ?? addresses.Count(a => a.Host == addresses[rank].Host);
        if (local < 1) throw new ArgumentException($"LOCAL_WORLD_SIZE={local}: use the number of ranks on this host");
        return new ClusterTopology(addresses.Count, rank, local, addresses, source);
    }

    /// <summary>rtp-llm's JSON: one entry per rank, key "&lt;name&gt;_part&lt;rank&gt;", value {"name", "ip", "port"}.</summary>
    public static IReadOnlyList<PeerAddress> ReadDistributeConfig(string path)
    {
        using var json = Parse(path, "DISTRIBUTE_CONFIG_FILE");
        if (json.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object of \"<name>_part<rank>\" entries");
        var byRank = new SortedDictionary<int, PeerAddress>();
        foreach (var entry in json.RootElement.EnumerateObject())
        {
            int at = entry.Name.LastIndexOf("_part", StringComparison.Ordinal);
            if (at < 0 || !int.TryParse(entry.Name.AsSpan(at + 5), out int rank) || rank < 0)
                throw new InvalidDataException($"{path}: key '{entry.Name}' does not end in _part<rank> (e.g. \"llama_part0\")");
            var v = entry.Value;
            if (v.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: '{entry.Name}' must be an object with \"name\", \"ip\" and \"port\"");
            string ip = String(v, "ip") ?? throw new InvalidDataException($"{path}: '{entry.Name}' has no \"ip\"");
            int port = Port(v, "port") ?? throw new InvalidDataException($"{path}: '{entry.Name}' has no \"port\" (1..65535)");
            if (!byRank.TryAdd(rank, new PeerAddress(ip, port))) throw new InvalidDataException($"{path}: rank {rank} appears twice");
        }
        return Contiguous(path, byRank, "_part");
    }

    /// <summary>MindIE's rank table: server_list[].device[].rank_id on host server_id (or container_ip).</summary>
    public static IReadOnlyList<PeerAddress> ReadRankTable(string path, int startPort)
    {
        using var json = Parse(path, "rank table");
        if (!json.RootElement.TryGetProperty("server_list", out var servers) || servers.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: no \"server_list\" array (MindIE rank table: server_list / device / rank_id)");
        var byRank = new SortedDictionary<int, PeerAddress>();
        int s = 0;
        foreach (var server in servers.EnumerateArray())
        {
            string host = (server.ValueKind == JsonValueKind.Object ? String(server, "container_ip") ?? String(server, "server_id") : null)
                ?? throw new InvalidDataException($"{path}: server_list[{s}] has no \"server_id\"");
            if (!server.TryGetProperty("device", out var devices) || devices.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: server_list[{s}] has no \"device\" array");
            int d = 0;
            foreach (var device in devices.EnumerateArray())
            {
                int rank = (device.ValueKind == JsonValueKind.Object ? Number(device, "rank_id") : null)
                    ?? throw new InvalidDataException($"{path}: server_list[{s}].device[{d}] has no \"rank_id\"");
                if (rank < 0 || startPort + rank > 65535) throw new InvalidDataException($"{path}: server_list[{s}].device[{d}] rank_id {rank} gives no port from START_PORT {startPort}");
                if (!byRank.TryAdd(rank, new PeerAddress(host, startPort + rank))) throw new InvalidDataException($"{path}: rank_id {rank} appears twice");
                d++;
            }
            s++;
        }
        return Contiguous(path, byRank, "rank_id ");
    }

    private static PeerAddress[] Contiguous(string path, SortedDictionary<int, PeerAddress> byRank, string what)
    {
        if (byRank.Count == 0) throw new InvalidDataException($"{path}: lists no ranks");
        int expected = 0;
        foreach (int rank in byRank.Keys)
        {
            if (rank != expected) throw new InvalidDataException($"{path}: ranks must be 0..{byRank.Count - 1} without gaps; {what}{expected} is missing");
            expected++;
        }
        return [.. byRank.Values];
    }

    private static JsonDocument Parse(string path, string what)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} '{path}' does not exist", path);
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    private static string? String(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : null;

    /// <summary>A number written as a JSON number or a string (MindIE writes "0").</summary>
    private static int? Number(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n)) return n;
        if (v.ValueKind == JsonValueKind.String && int.TryParse(v.GetString(), out n)) return n;
        return null;
    }

    private static int? Port(JsonElement e, string name) => Number(e, name) is { } p && p is >= 1 and <= 65535 ? p : null;

    private static string? Empty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static int? Int(Func<string, string?> env, string name)
    {
        string? text = Empty(env(name));
        if (text is null) return null;
        return int.TryParse(text, out int value) ? value : throw new ArgumentException($"{name}='{text}' is not a whole number");
    }
}

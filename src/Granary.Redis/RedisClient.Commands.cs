using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace Granary.Redis;

// The typed commands. Each one is a thin layer over ExecuteAsync that builds the arguments and reads the reply
// the same way under RESP2 and RESP3 (maps vs flat arrays, sets vs arrays, doubles vs strings).
public sealed partial class RedisClient
{
    private Task<RedisValue> Run(RedisArg[] args, CancellationToken cancellationToken) => ExecuteAsync(args, cancellationToken);

    private static RedisArg[] KeyThen(string command, string key, IEnumerable<RedisArg> rest, string what)
    {
        RedisArg[] args = [command, key, .. rest];
        if (args.Length == 2)
            throw new ArgumentException($"{command} needs at least one {what}", what);
        return args;
    }

    /// <summary>PING; returns the round-trip time.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        long start = Stopwatch.GetTimestamp();
        await Run(["PING"], cancellationToken).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>GET: the value, or <see cref="RedisValue.Null"/> when the key does not exist.</summary>
    public Task<RedisValue> GetAsync(string key, CancellationToken cancellationToken = default) =>
        Run(["GET", key], cancellationToken);

    /// <summary>GET as UTF-8 text; null when the key does not exist.</summary>
    public async Task<string?> GetStringAsync(string key, CancellationToken cancellationToken = default) =>
        (await GetAsync(key, cancellationToken).ConfigureAwait(false)).AsString();

    /// <summary>
    /// SET with an optional expiry (sent as PX milliseconds) and condition (NX/XX). Returns false when the
    /// condition stopped the write.
    /// </summary>
    public async Task<bool> SetAsync(string key, RedisArg value, TimeSpan? expiry = null, SetCondition condition = SetCondition.Always,
        CancellationToken cancellationToken = default)
    {
        var args = new List<RedisArg>(6) { "SET", key, value };
        if (expiry is { } ttl)
        {
            if (ttl <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(nameof(expiry), ttl, "SET expiry must be positive");
            args.Add("PX");
            args.Add((long)Math.Ceiling(ttl.TotalMilliseconds));
        }
        if (condition != SetCondition.Always)
            args.Add(condition == SetCondition.IfNotExists ? "NX" : "XX");
        var reply = await Run([.. args], cancellationToken).ConfigureAwait(false);
        return !reply.IsNull;
    }

    /// <summary>DEL of one key; true when it existed.</summary>
    public async Task<bool> DelAsync(string key, CancellationToken cancellationToken = default) =>
        (await Run(["DEL", key], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>DEL of several keys; returns how many existed.</summary>
    public async Task<long> DelAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        (await Run(Keys("DEL", keys), cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>EXISTS of one key.</summary>
    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        (await Run(["EXISTS", key], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>EXISTS of several keys; returns how many exist (a key named twice counts twice).</summary>
    public async Task<long> ExistsAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default) =>
        (await Run(Keys("EXISTS", keys), cancellationToken).ConfigureAwait(false)).AsInt64();

    private static RedisArg[] Keys(string command, IReadOnlyCollection<string> keys)
    {
        if (keys.Count == 0)
            throw new ArgumentException($"{command} needs at least one key", nameof(keys));
        return [command, .. keys.Select(k => (RedisArg)k)];
    }

    /// <summary>EXPIRE in whole seconds (rounded up); false when the key does not exist.</summary>
    public async Task<bool> ExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        (await Run(["EXPIRE", key, (long)Math.Ceiling(ttl.TotalSeconds)], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>PEXPIRE in milliseconds (rounded up); false when the key does not exist.</summary>
    public async Task<bool> PExpireAsync(string key, TimeSpan ttl, CancellationToken cancellationToken = default) =>
        (await Run(["PEXPIRE", key, (long)Math.Ceiling(ttl.TotalMilliseconds)], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>PTTL: the remaining time to live; null when the key does not exist or has no expiry.</summary>
    public async Task<TimeSpan?> PTtlAsync(string key, CancellationToken cancellationToken = default)
    {
        long ms = (await Run(["PTTL", key], cancellationToken).ConfigureAwait(false)).AsInt64();
        return ms < 0 ? null : TimeSpan.FromMilliseconds(ms);
    }

    /// <summary>INCR: the value after the increment.</summary>
    public async Task<long> IncrAsync(string key, CancellationToken cancellationToken = default) =>
        (await Run(["INCR", key], cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>INCRBY: the value after the increment.</summary>
    public async Task<long> IncrByAsync(string key, long increment, CancellationToken cancellationToken = default) =>
        (await Run(["INCRBY", key, increment], cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>HSET of one field; true when the field is new.</summary>
    public async Task<bool> HSetAsync(string key, string field, RedisArg value, CancellationToken cancellationToken = default) =>
        (await Run(["HSET", key, field, value], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>HSET of several fields; returns how many are new.</summary>
    public async Task<long> HSetAsync(string key, IEnumerable<KeyValuePair<string, RedisArg>> fields,
        CancellationToken cancellationToken = default) =>
        (await Run(KeyThen("HSET", key, fields.SelectMany(f => new[] { (RedisArg)f.Key, f.Value }), "fields"), cancellationToken)
            .ConfigureAwait(false)).AsInt64();

    /// <summary>HGET: the field's value, or <see cref="RedisValue.Null"/>.</summary>
    public Task<RedisValue> HGetAsync(string key, string field, CancellationToken cancellationToken = default) =>
        Run(["HGET", key, field], cancellationToken);

    /// <summary>HGETALL: every field and value (empty when the key does not exist).</summary>
    public async Task<Dictionary<string, RedisValue>> HGetAllAsync(string key, CancellationToken cancellationToken = default) =>
        (await Run(["HGETALL", key], cancellationToken).ConfigureAwait(false)).AsDictionary();

    /// <summary>HDEL of one field; true when it existed.</summary>
    public async Task<bool> HDelAsync(string key, string field, CancellationToken cancellationToken = default) =>
        (await Run(["HDEL", key, field], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>HDEL of several fields; returns how many existed.</summary>
    public async Task<long> HDelAsync(string key, IEnumerable<string> fields, CancellationToken cancellationToken = default) =>
        (await Run(KeyThen("HDEL", key, fields.Select(f => (RedisArg)f), "fields"), cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>SADD of one member; true when it is new.</summary>
    public async Task<bool> SAddAsync(string key, RedisArg member, CancellationToken cancellationToken = default) =>
        (await Run(["SADD", key, member], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>SADD of several members; returns how many are new.</summary>
    public async Task<long> SAddAsync(string key, IEnumerable<RedisArg> members, CancellationToken cancellationToken = default) =>
        (await Run(KeyThen("SADD", key, members, "members"), cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>SREM of one member; true when it was there.</summary>
    public async Task<bool> SRemAsync(string key, RedisArg member, CancellationToken cancellationToken = default) =>
        (await Run(["SREM", key, member], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>SREM of several members; returns how many were there.</summary>
    public async Task<long> SRemAsync(string key, IEnumerable<RedisArg> members, CancellationToken cancellationToken = default) =>
        (await Run(KeyThen("SREM", key, members, "members"), cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>SMEMBERS: every member, in no particular order.</summary>
    public async Task<RedisValue[]> SMembersAsync(string key, CancellationToken cancellationToken = default) =>
        [.. (await Run(["SMEMBERS", key], cancellationToken).ConfigureAwait(false)).Items];

    /// <summary>ZADD of one member; true when it is new (an existing member gets the new score).</summary>
    public async Task<bool> ZAddAsync(string key, RedisArg member, double score, CancellationToken cancellationToken = default) =>
        (await Run(["ZADD", key, score, member], cancellationToken).ConfigureAwait(false)).AsInt64() == 1;

    /// <summary>ZADD of several members; returns how many are new.</summary>
    public async Task<long> ZAddAsync(string key, IEnumerable<(RedisArg Member, double Score)> members,
        CancellationToken cancellationToken = default) =>
        (await Run(KeyThen("ZADD", key, members.SelectMany(m => new[] { (RedisArg)m.Score, m.Member }), "members"), cancellationToken)
            .ConfigureAwait(false)).AsInt64();

    /// <summary>ZRANGE by rank (0-based, inclusive, negative from the end), lowest score first.</summary>
    public async Task<RedisValue[]> ZRangeAsync(string key, long start, long stop, CancellationToken cancellationToken = default) =>
        [.. (await Run(["ZRANGE", key, start, stop], cancellationToken).ConfigureAwait(false)).Items];

    /// <summary>ZRANGE ... WITHSCORES: members with their scores, lowest score first.</summary>
    public async Task<(RedisValue Member, double Score)[]> ZRangeWithScoresAsync(string key, long start, long stop,
        CancellationToken cancellationToken = default)
    {
        var reply = await Run(["ZRANGE", key, start, stop, "WITHSCORES"], cancellationToken).ConfigureAwait(false);
        // RESP3 nests [member, score] pairs with a double score; RESP2 flattens them with the score as text.
        if (reply.Count > 0 && reply[0].IsAggregate)
            return [.. reply.Items.Select(p => (p[0], p[1].AsDouble()))];
        return [.. reply.AsPairs().Select(p => (p.Key, p.Value.AsDouble()))];
    }

    /// <summary>KEYS: every key matching a glob pattern. Blocks the server on big databases; prefer <see cref="ScanAsync"/>.</summary>
    public async Task<string[]> KeysAsync(string pattern, CancellationToken cancellationToken = default) =>
        [.. (await Run(["KEYS", pattern], cancellationToken).ConfigureAwait(false)).Items.Select(k => k.ToString())];

    /// <summary>SCAN: iterates the keys matching a glob pattern, <paramref name="pageSize"/> per round trip (a hint to the server).</summary>
    public async IAsyncEnumerable<string> ScanAsync(string pattern = "*", int pageSize = 100,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string cursor = "0";
        do
        {
            var reply = await Run(["SCAN", cursor, "MATCH", pattern, "COUNT", (long)pageSize], cancellationToken).ConfigureAwait(false);
            if (reply.Count != 2)
                throw new RedisProtocolException($"SCAN reply has {reply.Count} elements instead of [cursor, keys]");
            cursor = reply[0].ToString();
            foreach (var key in reply[1].Items)
                yield return key.ToString();
        }
        while (cursor != "0");
    }

    /// <summary>PUBLISH: returns how many subscribers received the message.</summary>
    public async Task<long> PublishAsync(string channel, RedisArg message, CancellationToken cancellationToken = default) =>
        (await Run(["PUBLISH", channel, message], cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>EVAL: runs a Lua script with KEYS and ARGV.</summary>
    public Task<RedisValue> EvalAsync(string script, IReadOnlyList<string>? keys = null, IReadOnlyList<RedisArg>? args = null,
        CancellationToken cancellationToken = default) =>
        Run(Script("EVAL", script, keys, args), cancellationToken);

    /// <summary>EVALSHA: runs a script loaded before (<see cref="ScriptLoadAsync"/>) by its SHA1.</summary>
    /// <exception cref="RedisServerException">With prefix NOSCRIPT when the server does not have the script.</exception>
    public Task<RedisValue> EvalShaAsync(string sha1, IReadOnlyList<string>? keys = null, IReadOnlyList<RedisArg>? args = null,
        CancellationToken cancellationToken = default) =>
        Run(Script("EVALSHA", sha1, keys, args), cancellationToken);

    /// <summary>SCRIPT LOAD: caches a script on the server and returns its SHA1.</summary>
    public async Task<string> ScriptLoadAsync(string script, CancellationToken cancellationToken = default) =>
        (await Run(["SCRIPT", "LOAD", script], cancellationToken).ConfigureAwait(false)).ToString();

    /// <summary>
    /// Runs a script by its SHA1 (computed here), sending the full text with EVAL only when the server does not
    /// have it cached (after a restart, SCRIPT FLUSH...). The usual way to run a script repeatedly.
    /// </summary>
    public async Task<RedisValue> ScriptEvaluateAsync(string script, IReadOnlyList<string>? keys = null,
        IReadOnlyList<RedisArg>? args = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await EvalShaAsync(s_scriptShas.GetValue(script, Sha1), keys, args, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Prefix == "NOSCRIPT")
        {
            return await EvalAsync(script, keys, args, cancellationToken).ConfigureAwait(false);
        }
    }

    // Each script text's SHA1, computed once per string instance (the scripts are constants run at heartbeat rate).
    private static readonly ConditionalWeakTable<string, string> s_scriptShas = new();

    /// <summary>The lowercase hex SHA1 of a script, as Redis names it.</summary>
    public static string Sha1(string script) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(script)));

    private static RedisArg[] Script(string command, string scriptOrSha, IReadOnlyList<string>? keys, IReadOnlyList<RedisArg>? args)
    {
        keys ??= [];
        args ??= [];
        var result = new RedisArg[3 + keys.Count + args.Count];
        result[0] = command;
        result[1] = scriptOrSha;
        result[2] = (long)keys.Count;
        for (int i = 0; i < keys.Count; i++)
            result[3 + i] = keys[i];
        for (int i = 0; i < args.Count; i++)
            result[3 + keys.Count + i] = args[i];
        return result;
    }
}

namespace Granary.Redis.Tests;

/// <summary>The typed commands against a real redis-server, under RESP3 (HELLO 3) and RESP2.</summary>
public class CommandTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private Task<RedisClient> ConnectAsync(bool resp3) => RedisClient.ConnectAsync(shared.Server.Options(resp3));

    private static string Key(string name, bool resp3) => $"cmd:{name}:{(resp3 ? 3 : 2)}";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task NegotiatesTheProtocol(bool resp3)
    {
        await using var client = await ConnectAsync(resp3);
        Assert.Equal(resp3 ? 3 : 2, client.Protocol);
        Assert.True(client.IsConnected);
        Assert.True(await client.PingAsync() < TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Strings(bool resp3)
    {
        await using var client = await ConnectAsync(resp3);
        string k = Key("str", resp3);
        await client.DelAsync(k);
        Assert.True((await client.GetAsync(k)).IsNull);
        Assert.Null(await client.GetStringAsync(k));
        Assert.False(await client.SetAsync(k, "v0", condition: SetCondition.IfExists));
        Assert.True(await client.SetAsync(k, "v1", condition: SetCondition.IfNotExists));
        Assert.False(await client.SetAsync(k, "v2", condition: SetCondition.IfNotExists));
        Assert.Equal("v1", await client.GetStringAsync(k));
        Assert.True(await client.SetAsync(k, "v3", condition: SetCondition.IfExists));
        Assert.Equal("v3", await client.GetStringAsync(k));
        Assert.Null(await client.PTtlAsync(k));

        Assert.True(await client.SetAsync(k, "v4", expiry: TimeSpan.FromSeconds(30)));
        Assert.InRange((await client.PTtlAsync(k))!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.True(await client.ExpireAsync(k, TimeSpan.FromSeconds(100)));
        Assert.InRange((await client.PTtlAsync(k))!.Value, TimeSpan.FromSeconds(95), TimeSpan.FromSeconds(100));
        Assert.True(await client.PExpireAsync(k, TimeSpan.FromMilliseconds(80)));
        await Task.Delay(200);
        Assert.False(await client.ExistsAsync(k));
        Assert.False(await client.ExpireAsync(k, TimeSpan.FromSeconds(1)));

        string n = Key("counter", resp3);
        await client.DelAsync(n);
        Assert.Equal(1, await client.IncrAsync(n));
        Assert.Equal(2, await client.IncrAsync(n));
        Assert.Equal(12, await client.IncrByAsync(n, 10));
        Assert.Equal(12, (await client.GetAsync(n)).AsInt64());

        Assert.True(await client.ExistsAsync(n));
        Assert.Equal(2, await client.ExistsAsync([n, n, k]));
        await client.SetAsync(k, "x");
        Assert.Equal(2, await client.DelAsync([n, k, Key("never", resp3)]));
        Assert.False(await client.DelAsync(n));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Hashes(bool resp3)
    {
        await using var client = await ConnectAsync(resp3);
        string k = Key("hash", resp3);
        await client.DelAsync(k);
        Assert.Empty(await client.HGetAllAsync(k));
        Assert.True(await client.HSetAsync(k, "a", "1"));
        Assert.False(await client.HSetAsync(k, "a", "2"));
        Assert.Equal(2, await client.HSetAsync(k, [new("b", "x"), new("c", 3L), new("a", "3")]));
        Assert.Equal("3", (await client.HGetAsync(k, "a")).ToString());
        Assert.True((await client.HGetAsync(k, "zz")).IsNull);
        var all = await client.HGetAllAsync(k);
        Assert.Equal(["a=3", "b=x", "c=3"], all.Select(p => $"{p.Key}={p.Value}").Order());
        Assert.True(await client.HDelAsync(k, "a"));
        Assert.False(await client.HDelAsync(k, "a"));
        Assert.Equal(1, await client.HDelAsync(k, ["b", "nope"]));
        Assert.Equal(["c"], (await client.HGetAllAsync(k)).Keys);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Sets(bool resp3)
    {
        await using var client = await ConnectAsync(resp3);
        string k = Key("set", resp3);
        await client.DelAsync(k);
        Assert.Empty(await client.SMembersAsync(k));
        Assert.True(await client.SAddAsync(k, "silo-1"));
        Assert.False(await client.SAddAsync(k, "silo-1"));
        Assert.Equal(2, await client.SAddAsync(k, ["silo-2", "silo-3", "silo-1"]));
        Assert.Equal(["silo-1", "silo-2", "silo-3"], (await client.SMembersAsync(k)).Select(m => m.ToString()).Order());
        Assert.True(await client.SRemAsync(k, "silo-2"));
        Assert.False(await client.SRemAsync(k, "silo-2"));
        Assert.Equal(1, await client.SRemAsync(k, ["silo-3", "silo-9"]));
        Assert.Equal(["silo-1"], (await client.SMembersAsync(k)).Select(m => m.ToString()));
        var raw = await client.ExecuteAsync("SMEMBERS", k);
        Assert.Equal(resp3 ? RedisType.Set : RedisType.Array, raw.Type);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SortedSets(bool resp3)
    {
        await using var client = await ConnectAsync(resp3);
        string k = Key("zset", resp3);
        await client.DelAsync(k);
        Assert.True(await client.ZAddAsync(k, "b", 2.5));
        Assert.False(await client.ZAddAsync(k, "b", 2));
        Assert.Equal(3, await client.ZAddAsync(k, [("a", 1), ("c", 3), ("inf", double.PositiveInfinity)]));
        Assert.Equal(["a", "b", "c", "inf"], (await client.ZRangeAsync(k, 0, -1)).Select(m => m.ToString()));
        Assert.Equal(["b", "c"], (await client.ZRangeAsync(k, 1, 2)).Select(m => m.ToString()));
        var scored = await client.ZRangeWithScoresAsync(k, 0, -1);
        Assert.Equal([("a", 1.0), ("b", 2.0), ("c", 3.0), ("inf", double.PositiveInfinity)],
            scored.Select(s => (s.Member.ToString(), s.Score)));
        Assert.Equal(resp3 ? RedisType.Double : RedisType.BulkString, (await client.ExecuteAsync("ZSCORE", k, "a")).Type);
    }

    [Fact]
    public async Task KeysAndScan()
    {
        await using var client = await ConnectAsync(true);
        for (int i = 0; i < 250; i++)
            await client.SetAsync($"scan:{i}", i);
        await client.SetAsync("other:1", 1);
        Assert.Equal(250, (await client.KeysAsync("scan:*")).Length);
        var scanned = new HashSet<string>();
        await foreach (var key in client.ScanAsync("scan:*", pageSize: 37))
            scanned.Add(key);
        Assert.Equal(Enumerable.Range(0, 250).Select(i => $"scan:{i}").Order(), scanned.Order());
    }

    [Fact]
    public async Task ServerErrorsCarryTheTextAndLeaveTheConnectionUsable()
    {
        await using var client = await ConnectAsync(true);
        await client.SetAsync("cmd:wrongtype", "text");
        var e = await Assert.ThrowsAsync<RedisServerException>(() => client.HSetAsync("cmd:wrongtype", "f", "v"));
        Assert.Equal("WRONGTYPE", e.Prefix);
        Assert.StartsWith("WRONGTYPE Operation against a key holding the wrong kind of value", e.ErrorText);
        Assert.Equal("HSET", e.Command);
        var unknown = await Assert.ThrowsAsync<RedisServerException>(() => client.ExecuteAsync("NOSUCHCOMMAND", "x"));
        Assert.Contains("unknown command", unknown.ErrorText);
        Assert.Equal("text", await client.GetStringAsync("cmd:wrongtype"));
    }

    [Fact]
    public async Task DatabaseFromTheUrlIsSelected()
    {
        await using var db3 = await RedisClient.ConnectAsync(shared.Server.Url + "/3");
        await using var db0 = await RedisClient.ConnectAsync(shared.Server.Url);
        await db3.SetAsync("cmd:selected", "in-3");
        await db0.DelAsync("cmd:selected");
        Assert.Equal("in-3", await db3.GetStringAsync("cmd:selected"));
        Assert.Null(await db0.GetStringAsync("cmd:selected"));
        Assert.Contains(" db=3 ", (await db3.ExecuteAsync("CLIENT", "INFO")).ToString());
    }
}

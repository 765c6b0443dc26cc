namespace Granary.Redis.Tests;

/// <summary>EVAL/EVALSHA (compare-and-swap of a table version, as membership does) and WATCH/MULTI/EXEC.</summary>
public class TransactionAndScriptTests(SharedServer shared) : IClassFixture<SharedServer>
{
    // Writes a row and bumps the table version only if the caller saw the current version.
    private const string CasScript = """
        local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
        if current ~= tonumber(ARGV[1]) then return {0, current} end
        redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], 'version', current + 1)
        return {1, current + 1}
        """;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ScriptsCompareAndSwapATableVersion(bool resp3)
    {
        await using var client = await RedisClient.ConnectAsync(shared.Server.Options(resp3));
        string table = $"membership:{(resp3 ? 3 : 2)}";
        await client.DelAsync(table);

        var first = await client.EvalAsync(CasScript, [table], [0L, "silo-a", "row-a"]);
        Assert.Equal([1L, 1L], first.Items.Select(v => v.AsInt64()));
        var stale = await client.EvalAsync(CasScript, [table], [0L, "silo-b", "row-b"]);
        Assert.Equal([0L, 1L], stale.Items.Select(v => v.AsInt64()));

        string sha = await client.ScriptLoadAsync(CasScript);
        Assert.Equal(RedisClient.Sha1(CasScript), sha);
        var second = await client.EvalShaAsync(sha, [table], [1L, "silo-b", "row-b"]);
        Assert.Equal([1L, 2L], second.Items.Select(v => v.AsInt64()));
        Assert.Equal("row-b", (await client.HGetAsync(table, "silo-b")).ToString());

        // After SCRIPT FLUSH, EVALSHA says NOSCRIPT and ScriptEvaluateAsync falls back to EVAL.
        await client.ExecuteAsync("SCRIPT", "FLUSH");
        var e = await Assert.ThrowsAsync<RedisServerException>(() => client.EvalShaAsync(sha, [table], [2L, "x", "y"]));
        Assert.Equal("NOSCRIPT", e.Prefix);
        var third = await client.ScriptEvaluateAsync(CasScript, [table], [2L, "silo-c", "row-c"]);
        Assert.Equal([1L, 3L], third.Items.Select(v => v.AsInt64()));
        var fourth = await client.ScriptEvaluateAsync(CasScript, [table], [3L, "silo-d", "row-d"]); // now cached: EVALSHA
        Assert.Equal([1L, 4L], fourth.Items.Select(v => v.AsInt64()));

        // Script errors surface as server errors; Lua nil is a null reply.
        await Assert.ThrowsAsync<RedisServerException>(() => client.EvalAsync("return redis.call('NOPE')"));
        Assert.True((await client.EvalAsync("return nil")).IsNull);
        Assert.Equal("ok", (await client.EvalAsync("return 'ok'")).ToString());
    }

    [Fact]
    public async Task WatchMultiExecCommitsAndAborts()
    {
        await using var client = await RedisClient.ConnectAsync(shared.Server.Options());
        await client.SetAsync("tx:version", 7L);

        await using (var tx = await client.BeginTransactionAsync())
        {
            await tx.WatchAsync(["tx:version"]);
            long version = (await tx.ExecuteAsync(["GET", "tx:version"])).AsInt64();
            tx.Queue("SET", "tx:version", version + 1);
            tx.Queue("HSET", "tx:table", "silo", "row");
            tx.Queue("INCR", "tx:table"); // wrong type at run time: an error element, the rest still runs
            var results = await tx.ExecAsync();
            Assert.NotNull(results);
            Assert.Equal("OK", results[0].ToString());
            Assert.Equal(1, results[1].AsInt64());
            Assert.True(results[2].IsError);
            Assert.Contains("WRONGTYPE", results[2].ToString());
        }
        Assert.Equal(8, (await client.GetAsync("tx:version")).AsInt64());

        await using (var tx = await client.BeginTransactionAsync())
        {
            await tx.WatchAsync(["tx:version"]);
            await client.IncrAsync("tx:version"); // someone else changes the watched key
            tx.Queue("SET", "tx:version", 100L);
            Assert.Null(await tx.ExecAsync());
        }
        Assert.Equal(9, (await client.GetAsync("tx:version")).AsInt64());

        await using (var tx = await client.BeginTransactionAsync())
        {
            tx.Queue("SET", "tx:version", 200L);
            tx.Queue("SET", "tx:too-few-args");
            var e = await Assert.ThrowsAsync<RedisServerException>(() => tx.ExecAsync());
            Assert.Equal("EXECABORT", e.Prefix);
        }
        Assert.Equal(9, (await client.GetAsync("tx:version")).AsInt64());
    }
}

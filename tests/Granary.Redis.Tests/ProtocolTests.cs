namespace Granary.Redis.Tests;

/// <summary>RESP3 types from a real server, binary and large values, pipelining, and the RESP2 fallback.</summary>
public class ProtocolTests(SharedServer shared) : IClassFixture<SharedServer>
{
    [Fact]
    public async Task Resp3TypesFromTheServer()
    {
        // DEBUG PROTOCOL makes redis-server reply with each RESP3 type.
        await using var client = await RedisClient.ConnectAsync(shared.Server.Options());
        Assert.Equal(3, client.Protocol);
        var map = await client.ExecuteAsync("DEBUG", "PROTOCOL", "map");
        Assert.Equal(RedisType.Map, map.Type);
        Assert.Equal(["0:false", "1:true", "2:false"], map.AsPairs().Select(p => $"{p.Key.AsInt64()}:{p.Value}"));
        var set = await client.ExecuteAsync("DEBUG", "PROTOCOL", "set");
        Assert.Equal((RedisType.Set, 3), (set.Type, set.Count));
        var dbl = await client.ExecuteAsync("DEBUG", "PROTOCOL", "double");
        Assert.Equal((RedisType.Double, 3.141), (dbl.Type, dbl.AsDouble()));
        Assert.Equal(RedisType.Null, (await client.ExecuteAsync("DEBUG", "PROTOCOL", "null")).Type);
        Assert.True((await client.ExecuteAsync("DEBUG", "PROTOCOL", "true")).AsBoolean());
        Assert.False((await client.ExecuteAsync("DEBUG", "PROTOCOL", "false")).AsBoolean());
        var big = await client.ExecuteAsync("DEBUG", "PROTOCOL", "bignum");
        Assert.Equal((RedisType.BigNumber, "1234567999999999999999999999999999999"), (big.Type, big.ToString()));
        var verbatim = await client.ExecuteAsync("DEBUG", "PROTOCOL", "verbatim");
        Assert.Equal((RedisType.VerbatimString, "txt", "This is a verbatim\nstring"), (verbatim.Type, verbatim.Format, verbatim.ToString()));
        var attributed = await client.ExecuteAsync("DEBUG", "PROTOCOL", "attrib");
        Assert.Equal("Some real reply following the attribute", attributed.ToString());
        Assert.Equal("key-popularity", attributed.Attributes!.AsPairs().Single().Key.ToString());
        // The push is out-of-band: it must not be taken as the reply, nor shift the replies that follow.
        var afterPush = await client.ExecuteAsync("DEBUG", "PROTOCOL", "push");
        Assert.Equal("Some real reply following the push reply", afterPush.ToString());
        Assert.Equal("PONG", (await client.ExecuteAsync("PING")).ToString());
        // RESP3 nulls for missing keys and the HELLO map.
        Assert.Equal(RedisType.Null, (await client.ExecuteAsync("GET", "proto:missing")).Type);
        var hello = await client.ExecuteAsync("HELLO", 3);
        Assert.Equal(RedisType.Map, hello.Type);
        Assert.Equal("redis", hello.AsDictionary()["server"].ToString());
        Assert.Equal(3, hello.AsDictionary()["proto"].AsInt64());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BinarySafeKeysAndValues(bool resp3)
    {
        await using var client = await RedisClient.ConnectAsync(shared.Server.Options(resp3));
        byte[] value = [.. Enumerable.Range(0, 256).Select(i => (byte)i), .. "\r\n$-1\r\n*2\r\n"u8];
        byte[] key = [(byte)'k', 0, 13, 10, 255, (byte)(resp3 ? '3' : '2')];
        await client.ExecuteAsync("SET", key, value);
        Assert.Equal(value, (await client.ExecuteAsync("GET", key)).AsBytes());
        await client.SetAsync("proto:bin", value.AsMemory(1, 20));
        Assert.Equal(value[1..21], (await client.GetAsync("proto:bin")).AsBytes());
        await client.SetAsync("proto:utf8", "héllo wörld ✓ 𝄞");
        Assert.Equal("héllo wörld ✓ 𝄞", await client.GetStringAsync("proto:utf8"));
        await client.SetAsync("proto:empty", "");
        Assert.Equal("", await client.GetStringAsync("proto:empty"));
    }

    [Fact]
    public async Task LargeValues()
    {
        await using var client = await RedisClient.ConnectAsync(shared.Server.Options());
        var big = new byte[5 * 1024 * 1024 + 7];
        new Random(42).NextBytes(big);
        await client.SetAsync("proto:large", big);
        Assert.Equal(big, (await client.GetAsync("proto:large")).AsBytes());
        var text = new string('é', 700_000); // 1.4 MB of UTF-8 from a string argument
        await client.SetAsync("proto:large-text", text);
        Assert.Equal(text, await client.GetStringAsync("proto:large-text"));
        // Several large values in flight at once come back intact and in order.
        var gets = Enumerable.Range(0, 4).Select(_ => client.GetAsync("proto:large")).ToArray();
        foreach (var got in await Task.WhenAll(gets))
            Assert.Equal(big, got.AsBytes());
    }

    [Fact]
    public async Task PipelinesAThousandCommands()
    {
        await using var client = await RedisClient.ConnectAsync(shared.Server.Options());
        await client.DelAsync("proto:pipeline");
        // Issued without awaiting: all are in flight together and each reply goes to its own command.
        var incrs = Enumerable.Range(0, 1000).Select(_ => client.IncrAsync("proto:pipeline")).ToArray();
        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), await Task.WhenAll(incrs));
        var sets = Enumerable.Range(0, 1000).Select(i => client.SetAsync($"proto:p:{i}", $"value-{i}")).ToArray();
        await Task.WhenAll(sets);
        var gets = Enumerable.Range(0, 1000).Select(i => client.GetStringAsync($"proto:p:{i}")).ToArray();
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"value-{i}"), await Task.WhenAll(gets));

        // From many threads at once too.
        await client.DelAsync("proto:parallel");
        await Parallel.ForAsync(0, 8, async (_, ct) =>
        {
            for (int i = 0; i < 250; i++)
                await client.IncrAsync("proto:parallel", ct);
        });
        Assert.Equal(2000, (await client.GetAsync("proto:parallel")).AsInt64());
    }

    [Fact]
    public async Task GenericExecuteConvertsArguments()
    {
        await using var client = await RedisClient.ConnectAsync(shared.Server.Options());
        await client.ExecuteAsync("RPUSH", "proto:list", 1, 2L, 2.5, "x", new byte[] { 0x41 });
        var list = await client.ExecuteAsync(["LRANGE", "proto:list", 0, -1], CancellationToken.None);
        Assert.Equal(["1", "2", "2.5", "x", "A"], list.Items.Select(v => v.ToString()));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.ExecuteAsync("SET", "k", DateTime.Now));
        Assert.Contains("argument 2", e.Message);
        await Assert.ThrowsAsync<ArgumentNullException>(() => client.ExecuteAsync("SET", "k", null!));
    }

    [Fact]
    public async Task FallsBackToResp2WhenHelloIsUnknown()
    {
        // A server that predates HELLO (Redis 5) answers it with "unknown command"; the client must carry on in RESP2
        // and authenticate with AUTH instead.
        await using var fake = FakeRedisServer.Start(command =>
            command.StartsWith("HELLO") ? "-ERR unknown command 'HELLO', with args beginning with: '3'\r\n"
            : command.StartsWith("GET") ? "$5\r\nvalue\r\n" : "+OK\r\n");
        var options = new RedisOptions { Host = "127.0.0.1", Port = fake.Port, Password = "pw", Database = 2 };
        await using (var client = await RedisClient.ConnectAsync(options))
        {
            Assert.Equal(2, client.Protocol);
            Assert.Equal("value", await client.GetStringAsync("k"));
        }
        Assert.Equal(["HELLO 3 AUTH default pw", "AUTH pw", "SELECT 2", "GET k"], fake.Commands);
    }

    [Fact]
    public async Task MalformedRepliesDropTheConnectionWithAClearError()
    {
        await using var fake = FakeRedisServer.Start(command =>
            command.StartsWith("HELLO") ? "%1\r\n$5\r\nproto\r\n:3\r\n" : "?garbage\r\n");
        var options = new RedisOptions { Host = "127.0.0.1", Port = fake.Port, ReconnectBackoffMin = TimeSpan.FromSeconds(1) };
        await using var client = await RedisClient.ConnectAsync(options);
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => client.GetAsync("k"));
        var cause = Assert.IsType<RedisProtocolException>(e.InnerException);
        Assert.Contains("unknown type byte 0x3F", cause.Message);
    }
}

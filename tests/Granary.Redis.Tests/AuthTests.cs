namespace Granary.Redis.Tests;

/// <summary>AUTH with a password and with an ACL user, through HELLO 3 and through RESP2 AUTH.</summary>
public class AuthTests : IAsyncLifetime
{
    private RedisServerProcess _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await RedisServerProcess.StartNewAsync("--requirepass", "s3cret");
        await using var admin = await RedisClient.ConnectAsync($"redis://:s3cret@127.0.0.1:{_server.Port}");
        await admin.ExecuteAsync("ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all");
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PasswordAndUserPasswordSucceed(bool resp3)
    {
        var options = _server.Options(resp3);
        options.Password = "s3cret";
        await using (var client = await RedisClient.ConnectAsync(options))
        {
            Assert.Equal(resp3 ? 3 : 2, client.Protocol);
            Assert.Equal("default", (await client.ExecuteAsync("ACL", "WHOAMI")).ToString());
        }
        options.User = "alice";
        options.Password = "alice-pw";
        await using (var client = await RedisClient.ConnectAsync(options))
            Assert.Equal("alice", (await client.ExecuteAsync("ACL", "WHOAMI")).ToString());
        await using (var client = await RedisClient.ConnectAsync($"redis://alice:alice-pw@127.0.0.1:{_server.Port}/1"))
            Assert.Equal("alice", (await client.ExecuteAsync("ACL", "WHOAMI")).ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WrongPasswordFailsClearly(bool resp3)
    {
        var options = _server.Options(resp3);
        options.Password = "wrong";
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(options));
        var server = Assert.IsType<RedisServerException>(e.InnerException);
        Assert.Equal("WRONGPASS", server.Prefix);
        Assert.Contains("refused the handshake", e.Message);

        options.User = "alice";
        e = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(options));
        Assert.Equal("WRONGPASS", Assert.IsType<RedisServerException>(e.InnerException).Prefix);
    }

    [Fact]
    public async Task MissingPasswordFailsWithNoAuth()
    {
        // HELLO 3 without AUTH is refused outright; under RESP2 the first command that needs auth is.
        var e = await Assert.ThrowsAsync<RedisConnectionException>(() => RedisClient.ConnectAsync(_server.Options()));
        Assert.Equal("NOAUTH", Assert.IsType<RedisServerException>(e.InnerException).Prefix);
        await using var resp2 = await RedisClient.ConnectAsync(_server.Options(resp3: false));
        var denied = await Assert.ThrowsAsync<RedisServerException>(() => resp2.GetAsync("k"));
        Assert.Equal("NOAUTH", denied.Prefix);
    }
}

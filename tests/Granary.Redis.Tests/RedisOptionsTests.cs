namespace Granary.Redis.Tests;

public class RedisOptionsTests
{
    [Fact]
    public void ParsesEveryPartOfTheUrl()
    {
        var o = RedisOptions.Parse("redis://alice:p%40ss@redis.example:6380/3");
        Assert.Equal(("redis.example", 6380, "alice", "p@ss", 3), (o.Host, o.Port, o.User, o.Password, o.Database));
        var plain = RedisOptions.Parse("redis://127.0.0.1");
        Assert.Equal(("127.0.0.1", 6379, null, null, 0), (plain.Host, plain.Port, plain.User, plain.Password, plain.Database));
        var passwordOnly = RedisOptions.Parse("redis://:secret@h:1");
        Assert.Equal((null, "secret"), (passwordOnly.User, passwordOnly.Password));
        Assert.Equal(TimeSpan.FromSeconds(5), plain.CommandTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(100), plain.ReconnectBackoffMin);
    }

    [Theory]
    [InlineData("http://h:1", "redis://")]
    [InlineData("redis://h:1/x", "database 'x'")]
    [InlineData("not a url", "redis://")]
    public void RejectsMalformedUrls(string url, string expected)
    {
        var e = Assert.Throws<FormatException>(() => RedisOptions.Parse(url));
        Assert.Contains(expected, e.Message);
    }
}

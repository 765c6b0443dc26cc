using StackExchange.Redis;

namespace Granary.Client.Orleans;

/// <summary>Turns the cluster's redis://[:password@]host:port[/db] address into StackExchange.Redis options.</summary>
public static class RedisAddress
{
    /// <summary>The options for <paramref name="url"/>; <see cref="ArgumentException"/> for one that is not redis://HOST:PORT.</summary>
    public static ConfigurationOptions Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("redis" or "rediss") || uri.Port <= 0)
            throw new ArgumentException($"the cluster's Redis must be a redis://HOST:PORT address, got '{url}'");
        var options = new ConfigurationOptions
        {
            EndPoints = { { uri.Host, uri.Port } },
            Ssl = uri.Scheme == "rediss",
            // Redis restarting must not fail a silo: commands wait for the reconnect.
            AbortOnConnectFail = false,
            ConnectTimeout = 2000,
        };
        if (uri.UserInfo.Length > 0)
        {
            string[] parts = Uri.UnescapeDataString(uri.UserInfo).Split(':', 2);
            if (parts.Length == 2)
            {
                if (parts[0].Length > 0) options.User = parts[0];
                options.Password = parts[1];
            }
            else options.Password = parts[0];
        }
        if (uri.AbsolutePath.Trim('/') is { Length: > 0 } db && int.TryParse(db, out int database)) options.DefaultDatabase = database;
        return options;
    }
}

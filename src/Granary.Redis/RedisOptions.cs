using System.Globalization;

namespace Granary.Redis;

/// <summary>Where and how the client connects. Every property documents its default.</summary>
public sealed class RedisOptions
{
    /// <summary>Host name or IP address of the server. Default <c>localhost</c>.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>TCP port. Default 6379.</summary>
    public int Port { get; set; } = 6379;

    /// <summary>ACL user name for AUTH/HELLO; null (default) authenticates as the <c>default</c> user when a password is set.</summary>
    public string? User { get; set; }

    /// <summary>Password for AUTH/HELLO; null (default) sends no AUTH.</summary>
    public string? Password { get; set; }

    /// <summary>Database selected with SELECT after connecting (and after every reconnect). Default 0.</summary>
    public int Database { get; set; }

    /// <summary>Name set with CLIENT SETNAME (or HELLO SETNAME); null (default) sets none.</summary>
    public string? ClientName { get; set; }

    /// <summary>Ask for RESP3 with <c>HELLO 3</c>, falling back to RESP2 when the server refuses. Default true.</summary>
    public bool PreferResp3 { get; set; } = true;

    /// <summary>Time allowed for the TCP connect plus the handshake (HELLO/AUTH/SELECT). Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time a command waits for its reply before <see cref="RedisTimeoutException"/>; <see cref="Timeout.InfiniteTimeSpan"/> waits forever. Default 5 s.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay between reconnect attempts; each failure doubles it up to <see cref="ReconnectBackoffMax"/>. Default 100 ms.</summary>
    public TimeSpan ReconnectBackoffMin { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest delay between reconnect attempts. Default 5 s.</summary>
    public TimeSpan ReconnectBackoffMax { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a command issued while disconnected waits for the reconnect before failing with
    /// <see cref="RedisConnectionException"/>. Default <see cref="TimeSpan.Zero"/>: fail fast.
    /// </summary>
    public TimeSpan ReconnectWait { get; set; } = TimeSpan.Zero;

    /// <summary>The endpoint as <c>host:port</c>, for messages.</summary>
    public string EndPoint => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>
    /// Parses <c>redis://[[user]:password@]host[:port][/db]</c> (port defaults to 6379, db to 0; user and
    /// password are percent-decoded). Timeouts and backoff keep their defaults.
    /// </summary>
    /// <exception cref="FormatException">The text is not such a URL; the message says which part is wrong.</exception>
    public static RedisOptions Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "redis")
            throw new FormatException($"Redis endpoint '{url}' is not of the form redis://[user:password@]host:port[/db]");
        if (string.IsNullOrEmpty(uri.Host))
            throw new FormatException($"Redis endpoint '{url}' has no host");
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
            throw new FormatException($"Redis endpoint '{url}' has a query or fragment, which is not supported");

        var options = new RedisOptions { Host = uri.Host.Trim('[', ']'), Port = uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port };
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            int colon = uri.UserInfo.IndexOf(':');
            string user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            string? password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            if (password is null)
            {
                // redis://secret@host is the common shorthand for a password alone.
                options.Password = user;
            }
            else
            {
                options.User = user.Length == 0 ? null : user;
                options.Password = password;
            }
        }
        string path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out int db))
                throw new FormatException($"Redis endpoint '{url}' has database '{path}', which is not a non-negative integer");
            options.Database = db;
        }
        return options;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("RedisOptions.Host is empty", nameof(Host));
        if (Port is <= 0 or > 65535) throw new ArgumentException($"RedisOptions.Port {Port} is not a TCP port", nameof(Port));
        if (Database < 0) throw new ArgumentException($"RedisOptions.Database {Database} is negative", nameof(Database));
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentException("RedisOptions.ConnectTimeout must be positive", nameof(ConnectTimeout));
        if (CommandTimeout <= TimeSpan.Zero && CommandTimeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentException("RedisOptions.CommandTimeout must be positive or infinite", nameof(CommandTimeout));
        if (ReconnectBackoffMin <= TimeSpan.Zero || ReconnectBackoffMax < ReconnectBackoffMin)
            throw new ArgumentException("RedisOptions.ReconnectBackoffMin must be positive and at most ReconnectBackoffMax", nameof(ReconnectBackoffMin));
        if (ReconnectWait < TimeSpan.Zero) throw new ArgumentException("RedisOptions.ReconnectWait is negative", nameof(ReconnectWait));
    }

    /// <summary>A copy, so that a client is not affected by later changes to the caller's instance.</summary>
    public RedisOptions Clone() => (RedisOptions)MemberwiseClone();
}

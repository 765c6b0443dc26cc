namespace Granary.Redis;

/// <summary>The server answered a command with an error reply (<c>-ERR ...</c> or a RESP3 blob error).</summary>
public sealed class RedisServerException : RedisException
{
    /// <summary>Creates the exception for the error text the server sent in reply to <paramref name="command"/>.</summary>
    public RedisServerException(string errorText, string? command = null)
        : base(command is null ? errorText : $"{errorText} (command {command})")
    {
        ErrorText = errorText;
        Command = command;
        int space = errorText.IndexOf(' ');
        Prefix = space < 0 ? errorText : errorText[..space];
    }

    /// <summary>The error text exactly as the server sent it, e.g. <c>WRONGTYPE Operation against a key ...</c>.</summary>
    public string ErrorText { get; }

    /// <summary>The first word of the error text (<c>ERR</c>, <c>WRONGTYPE</c>, <c>NOSCRIPT</c>, <c>WRONGPASS</c>...).</summary>
    public string Prefix { get; }

    /// <summary>The command that failed, when known.</summary>
    public string? Command { get; }
}

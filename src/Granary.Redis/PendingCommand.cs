namespace Granary.Redis;

/// <summary>A command queued or in flight on a connection; completed by the reader loop with its reply.</summary>
internal sealed class PendingCommand : TaskCompletionSource<RedisValue>
{
    private volatile bool _abandoned;

    public PendingCommand(RedisArg[] args) : base(TaskCreationOptions.RunContinuationsAsynchronously) => Args = args;

    public RedisArg[] Args { get; }

    /// <summary>The command name, for messages (e.g. <c>GET</c>).</summary>
    public string Name => Args.Length == 0 ? "(empty)" : Args[0].ToString().ToUpperInvariant();

    /// <summary>The caller gave up (timeout or cancellation): skip it if not yet written, drop its reply otherwise.</summary>
    public bool Abandoned => _abandoned;

    public void Abandon() => _abandoned = true;
}

namespace Granary.Engine;

/// <summary>Settings of the <see cref="AsyncEngine"/>.</summary>
public sealed class AsyncEngineOptions
{
    /// <summary>Most sequences waiting to start (queued plus in the scheduler's waiting queue) before new requests get 429. Default 256.</summary>
    public int MaxWaiting { get; set; } = 256;
}

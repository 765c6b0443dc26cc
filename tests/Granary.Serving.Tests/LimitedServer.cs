using Granary.Engine;

namespace Granary.Serving.Tests;

/// <summary>A server with an API key, one running sequence at most and a waiting queue of one (under a name of its own, for its metrics).</summary>
public sealed class LimitedServer : TestServer
{
    public const string Key = "test-key";
    protected override string ModelDirectory => TestData.Stories15M;
    protected override EngineOptions EngineOptions => new() { KvCacheBlocks = 64, MaxSequences = 1, MaxBatchedTokens = 64 };
    protected override ServeOptions ServeOptions => new() { Port = 0, ServedModelName = "stories15M-limited", ApiKey = Key, RetryAfterSeconds = 2, Engine = new AsyncEngineOptions { MaxWaiting = 1 } };
}

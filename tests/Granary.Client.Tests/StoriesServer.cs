namespace Granary.Client.Tests;

/// <summary>
/// One stories15M server for the tests that need one (they run one after another in <see cref="ServerCollection"/>):
/// an API key, one running sequence at most and a waiting queue of one, so that two long requests fill it and
/// a third gets 429.
/// </summary>
public sealed class StoriesServer : IAsyncLifetime
{
    public const string Key = "client-test-key";

    public GranaryServer Server { get; private set; } = null!;

    public Uri BaseUrl => Server.BaseUrl;

    public async ValueTask InitializeAsync() =>
        Server = await GranaryServer.StartAsync(TestData.Stories15M, Key, "--max-num-seqs", "1", "--max-waiting", "1");

    public async ValueTask DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync();
    }

    /// <summary>A client of this server with short retry delays (tests don't wait for production back-off).</summary>
    public GranaryClient Client(Action<GranaryClientOptions>? configure = null, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        var options = new GranaryClientOptions { Endpoints = [BaseUrl], ApiKey = Key, RetryDelay = TimeSpan.FromMilliseconds(20) };
        configure?.Invoke(options);
        return new GranaryClient(options, logger);
    }

    /// <summary>
    /// Waits until the server counted <paramref name="aborted"/> aborted sequences in all and nothing runs: the
    /// request was cancelled before it finished, and the running count dropped.
    /// </summary>
    public Task AbortedAsync(double aborted) => Server.EventuallyAsync(async () =>
        await Server.MetricAsync("granary_aborted_sequences_total") == aborted && await Server.MetricAsync("granary_num_requests_running") == 0,
        $"{aborted} aborted sequences and none running");

    /// <summary>
    /// Runs <paramref name="cancelRequest"/> (a request cancelled once its answer is under way) until the server counts
    /// one aborted sequence for it. On a loaded machine the answer can finish before the cancellation reaches the
    /// server, and then there is nothing to abort: such a run proves nothing either way, and is run again (3 tries).
    /// </summary>
    public async Task ExpectAbortedAsync(Func<Task> cancelRequest)
    {
        for (int attempt = 1; ; attempt++)
        {
            await IdleAsync();
            double before = await Server.MetricAsync("granary_aborted_sequences_total");
            await cancelRequest();
            // The abort is counted before the running count drops, so once nothing runs the count is final.
            await IdleAsync();
            double counted = await Server.MetricAsync("granary_aborted_sequences_total") - before;
            if (counted == 1) return;
            if (counted != 0 || attempt == 3)
                throw new Xunit.Sdk.XunitException($"expected the cancelled request's one sequence aborted, the server counted {counted} (try {attempt})\nserver log:\n{Server.Log}");
        }
    }

    /// <summary>Waits until nothing runs or waits on the server (after a test cancelled something).</summary>
    public Task IdleAsync() => Server.EventuallyAsync(async () =>
        await Server.MetricAsync("granary_num_requests_running") == 0 && await Server.MetricAsync("granary_num_requests_waiting") == 0, "the server to be idle");
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<StoriesServer>
{
    public const string Name = "stories15M server";
}

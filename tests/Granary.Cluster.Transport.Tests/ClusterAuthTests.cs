using Granary.Cluster.Transport;

namespace Granary.Cluster.Transport.Tests;

public sealed class ClusterAuthTests
{
    [Fact]
    public async Task Wrong_secret_is_unauthorized_and_never_reaches_the_handler()
    {
        int reached = 0;
        await using var endpoint = await TestSilos.StartAsync(e =>
        {
            e.Map("rank", "step", (_, _, _) => { Interlocked.Increment(ref reached); return ValueTask.FromResult<ReadOnlyMemory<byte>>(new byte[] { 1 }); });
            e.MapStream("session", "generate", (_, _, _) => { Interlocked.Increment(ref reached); return AsyncEnumerable.Empty<ReadOnlyMemory<byte>>(); });
        });
        using var client = new SiloClient(TestSilos.Options(secret: "guess"));

        var call = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "rank", "r", "step", new byte[] { 1 }, TestSilos.Timeout, default));
        var stream = await Assert.ThrowsAsync<GrainCallException>(() => client.StreamAsync(endpoint.Url, "session", "s", "generate", default, default).ToListAsync().AsTask());
        var ping = await Assert.ThrowsAsync<GrainCallException>(() => client.PingAsync(endpoint.Url, TestSilos.Timeout, default));

        Assert.All([call, stream, ping], e => Assert.Equal(GrainCallFailure.Unauthorized, e.Kind));
        Assert.Equal(401, call.StatusCode);
        Assert.Contains("secret", call.Message);
        Assert.Equal(0, reached);
    }

    [Fact]
    public async Task Other_cluster_is_unauthorized_with_the_text_naming_this_silos_cluster()
    {
        int reached = 0;
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (_, _, _) =>
        {
            Interlocked.Increment(ref reached);
            return ValueTask.FromResult<ReadOnlyMemory<byte>>(new byte[] { 1 });
        }));
        // Same secret, other cluster: the cluster id is checked first.
        using var client = new SiloClient(TestSilos.Options(clusterId: "staging"));

        var e = await Assert.ThrowsAsync<GrainCallException>(() => client.CallAsync(endpoint.Url, "rank", "r", "step", default, TestSilos.Timeout, default));

        Assert.Equal(GrainCallFailure.Unauthorized, e.Kind);
        Assert.Equal(403, e.StatusCode);
        Assert.Contains("cluster 'test'", e.RemoteMessage);
        Assert.Contains("'staging'", e.RemoteMessage);
        Assert.Contains("cluster 'test'", e.Message);
        Assert.Equal(0, reached);
    }

    [Fact]
    public async Task Requests_without_the_cluster_headers_are_refused()
    {
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (_, _, _) => ValueTask.FromResult<ReadOnlyMemory<byte>>(new byte[] { 1 })));
        using var http = new HttpClient { DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var call = await http.PostAsync(endpoint.Url + "/grains/rank/r/step", new ByteArrayContent([1]));
        using var ping = await http.GetAsync(endpoint.Url + "/cluster/ping");

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, call.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, ping.StatusCode);
    }

    [Fact]
    public async Task Empty_secret_still_needs_the_token_of_the_cluster()
    {
        var open = TestSilos.Options(secret: "");
        await using var endpoint = await TestSilos.StartAsync(e => e.Map("rank", "step", (_, _, _) => ValueTask.FromResult<ReadOnlyMemory<byte>>(new byte[] { 5 })), options: open);
        using var client = new SiloClient(TestSilos.Options(secret: ""));

        Assert.Equal([5], await client.CallAsync(endpoint.Url, "rank", "r", "step", default, TestSilos.Timeout, default));
    }
}

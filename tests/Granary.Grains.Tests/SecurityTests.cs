using System.Net;
using Granary.Cluster.Membership;

namespace Granary.Grains.Tests;

/// <summary>Only silos of the cluster, with its secret, join it or call its grains.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SecurityTests
{
    [Fact]
    public async Task GrainCallsWithoutTheSecretAreRefusedAndStrangersDoNotJoin()
    {
        await using var cluster = await SiloCluster.StartAsync();
        cluster.StartSilo("s1", devices: "cpu:0");
        var status = await cluster.WaitForAsync(s => s.Silos.Count(r => r.Row.Status == SiloStatus.Active) == 1, "the silo");
        var silo = status.Silos[0].Row;

        using var http = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using (var anonymous = await http.PostAsync($"{silo.Url}/grains/session/stories15M%2F0/generate", new ByteArrayContent([])))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        var forged = new HttpRequestMessage(HttpMethod.Post, $"{silo.Url}/grains/session/stories15M%2F0/generate")
        {
            Content = new ByteArrayContent([]),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        forged.Headers.Add("x-granary-cluster", "test");
        forged.Headers.Add("x-granary-auth", "00");
        using (var wrongToken = await http.SendAsync(forged)) Assert.Equal(HttpStatusCode.Unauthorized, wrongToken.StatusCode);

        // A silo with another secret is refused at the door, with a message saying why.
        var intruder = cluster.StartSilo("intruder", devices: "cpu:0", secret: "guess");
        Assert.Equal(1, await intruder.WaitForExitAsync(60));
        Assert.Contains("secret does not match", intruder.Stderr);

        // A silo of another cluster id (same Redis) forms its own cluster: this one never sees it.
        cluster.StartSilo("other", devices: "cpu:0", clusterId: "elsewhere");
        await Task.Delay(3000);
        var after = await cluster.StatusAsync();
        Assert.Equal(["s1"], after.Silos.Select(r => r.Row.Name));
        Assert.False(cluster.Silo("other").Process.HasExited, cluster.Silo("other").Stderr);
    }
}

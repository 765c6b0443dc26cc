using Granary.Cluster.Membership;

namespace Granary.Grains.Tests;

/// <summary>
/// Redis killed mid-run and restarted (from its append-only file, as a cluster store runs): serving goes on while it
/// is down (Orleans' probes are silo to silo), nobody is declared dead for its absence, and the cluster's state is
/// there when it is back.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StoreOutageTests(ReferenceServer reference)
{
    [Fact]
    public async Task ServingGoesOnWhileRedisIsDownAndMembershipRecoversWhenItIsBack()
    {
        await using var cluster = await SiloCluster.StartAsync();
        cluster.StartSilo("s1", devices: "cpu:0", gateway: true);
        cluster.StartSilo("s2", devices: "cpu:0");
        await cluster.WaitForAsync(s => s.Silos.Count(r => r.Row.Status == SiloStatus.Active) == 2, "2 active silos");
        var deployed = await cluster.DeployAsync("--replicas", "2");
        Assert.True(deployed.Code == 0, deployed.Stderr);
        await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 2, "2 ready replicas", 90);
        var gateway = await cluster.GatewayAsync();
        string expected = await Completions.CompleteAsync(cluster.Http, reference.BaseUrl, Completions.Prompts[0], 32);

        await cluster.Redis.KillAsync();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(expected, await Completions.CompleteAsync(cluster.Http, gateway, Completions.Prompts[0], 32));
            await Task.Delay(1000); // longer than the death timeout in all: nobody may be declared dead for Redis's absence
        }

        await cluster.Redis.StartAsync();
        Assert.Equal(expected, await Completions.CompleteAsync(cluster.Http, gateway, Completions.Prompts[0], 32));
        var back = await cluster.WaitForAsync(s => s.Silos.Count(r => r.Row.Status == SiloStatus.Active) == 2 && s.Deployments.Count == 1 && s.Replicas.Count(r => r.Ready) == 2,
            "the silos, the deployment and the replicas to be seen again", 30);
        Assert.DoesNotContain(back.Silos, r => r.Row.Status == SiloStatus.Dead);
        Assert.Equal(expected, await Completions.CompleteAsync(cluster.Http, gateway, Completions.Prompts[0], 32));
    }
}

using Granary.Cluster.Membership;
using Granary.Cluster.Transport;

namespace Granary.Cluster.Transport.Tests;

public sealed class HttpSiloProberTests
{
    private static SiloRow Row(string key, int port) => new()
    {
        Key = key,
        Name = "silo-a",
        Host = "127.0.0.1",
        Port = port,
        Generation = 1,
    };

    [Fact]
    public async Task Ping_answers_the_silo_key()
    {
        const string key = "silo-a@127.0.0.1:0/1700000000000";
        await using var endpoint = await TestSilos.StartAsync(_ => { }, siloKey: key);
        using var client = new SiloClient(TestSilos.Options());

        Assert.Equal(key, await client.PingAsync(endpoint.Url, TestSilos.Timeout, default));
    }

    [Fact]
    public async Task Probe_is_true_for_the_silos_own_key_and_false_for_another_generation()
    {
        const string key = "silo-a@127.0.0.1:0/2";
        await using var endpoint = await TestSilos.StartAsync(_ => { }, siloKey: key);
        var options = TestSilos.Options();
        using var client = new SiloClient(options);
        var prober = new HttpSiloProber(client, options);

        Assert.True(await prober.ProbeAsync(Row(key, endpoint.Port), default));
        Assert.False(await prober.ProbeAsync(Row("silo-a@127.0.0.1:0/1", endpoint.Port), default));
    }

    [Fact]
    public async Task Probe_is_false_for_a_dead_endpoint()
    {
        const string key = "silo-a@127.0.0.1:0/3";
        var endpoint = await TestSilos.StartAsync(_ => { }, siloKey: key);
        int port = endpoint.Port;
        await endpoint.DisposeAsync();
        var options = TestSilos.Options();
        using var client = new SiloClient(options);

        Assert.False(await new HttpSiloProber(client, options).ProbeAsync(Row(key, port), default));
    }

    [Fact]
    public async Task Probe_is_false_for_a_silo_of_another_cluster()
    {
        const string key = "silo-a@127.0.0.1:0/4";
        await using var endpoint = await TestSilos.StartAsync(_ => { }, siloKey: key, options: TestSilos.Options(clusterId: "other"));
        var options = TestSilos.Options();
        using var client = new SiloClient(options);

        Assert.False(await new HttpSiloProber(client, options).ProbeAsync(Row(key, endpoint.Port), default));
    }
}

using Granary.Cluster.Transport;

namespace Granary.Cluster.Transport.Tests;

/// <summary>Endpoints on loopback with free ports, and clients of the same (or another) cluster.</summary>
internal static class TestSilos
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static ClusterOptions Options(string clusterId = "test", string secret = "s3cret") => new()
    {
        ClusterId = clusterId,
        Secret = secret,
        AdvertisedHost = "127.0.0.1",
        Port = 0,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        ProbeTimeout = TimeSpan.FromSeconds(2),
    };

    /// <summary>An endpoint of cluster "test" with <paramref name="map"/>'s handlers, started.</summary>
    public static async Task<SiloEndpoint> StartAsync(Action<SiloEndpoint> map, string siloKey = "silo-a@127.0.0.1:0/1", ClusterOptions? options = null)
    {
        var endpoint = new SiloEndpoint(options ?? Options(), siloKey, null);
        map(endpoint);
        await endpoint.StartAsync();
        return endpoint;
    }

    public static async Task<T> Within<T>(Task<T> task, TimeSpan limit)
    {
        if (await Task.WhenAny(task, Task.Delay(limit)) != task) throw new TimeoutException($"not done within {limit.TotalSeconds} s");
        return await task;
    }
}

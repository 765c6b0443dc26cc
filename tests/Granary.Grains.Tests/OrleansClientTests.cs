using Granary.Client.Orleans;
using Granary.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Granary.Grains.Tests;

/// <summary>
/// The Orleans client SDK against a real cluster: the sample (another process) streams a completion and its IChatClient
/// answers; in this process, bad requests get <see cref="GranaryRequestException"/> or a cancellation, and the cluster
/// keeps serving.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class OrleansClientTests(ReferenceServer reference)
{
    [Fact]
    public async Task TheSampleStreamsAndChatsAndBadRequestsGetClearErrors()
    {
        await using var cluster = await SiloCluster.StartAsync();
        cluster.StartSilo("s1", devices: "cpu:0", gateway: true);
        await cluster.WaitForAsync(s => s.Silos.Any(r => r.Row.Status == SiloStatus.Active), "the silo");
        var deployed = await cluster.DeployAsync();
        Assert.True(deployed.Code == 0, deployed.Stderr);
        await cluster.WaitForAsync(s => s.Replicas.Count(r => r.Ready) == 1, "the replica", 90);
        string expected = await Completions.CompleteAsync(cluster.Http, reference.BaseUrl, "Once upon a time", 32);

        using (var sample = new ChildProcess(Path.Combine(AppContext.BaseDirectory, "Granary.Samples.Orleans.dll"), ["stories15M", "Once upon a time"],
            new Dictionary<string, string?> { ["Granary__Orleans__RedisUrl"] = cluster.Redis.Url, ["Granary__Orleans__ClusterId"] = cluster.ClusterId }))
        {
            Assert.True(await sample.WaitForExitAsync(120) == 0, sample.Stderr + "\n" + cluster.Logs());
            Assert.Contains($"completion: {expected}\n", sample.Stdout);
            var chat = sample.Stdout.Split('\n').Single(l => l.StartsWith("chat: ", StringComparison.Ordinal));
            Assert.True(chat.Length > "chat: ".Length + 10, sample.Stdout);
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.AddGranaryOrleansClient(o => { o.RedisUrl = cluster.Redis.Url; o.ClusterId = cluster.ClusterId; });
        using var host = builder.Build();
        await host.StartAsync();
        var granary = host.Services.GetRequiredService<GranaryCluster>();
        var model = granary.GetModel("stories15M");
        var greedy = new GranaryGenerationOptions { MaxTokens = 32, Temperature = 0 };

        var unknown = await Assert.ThrowsAsync<GranaryRequestException>(() => granary.GetModel("nope").CompleteAsync("Once upon a time", greedy));
        Assert.Equal("model_not_found", unknown.Code);
        Assert.Contains("stories15M", unknown.Message);
        var negative = await Assert.ThrowsAsync<GranaryRequestException>(() => model.CompleteAsync("Once upon a time", greedy with { MaxTokens = -1 }));
        Assert.Equal("max_tokens", negative.Param);
        var empty = await Assert.ThrowsAsync<GranaryRequestException>(() => model.CompleteAsync("", greedy));
        Assert.Equal("prompt", empty.Param);
        using (var cancel = new CancellationTokenSource())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var chunk in model.StreamAsync("Once upon a time", greedy with { MaxTokens = 200 }, cancel.Token)) cancel.Cancel();
            });
        }
        // The cluster keeps serving, with the single-process answer.
        var answer = await model.CompleteAsync("Once upon a time", greedy);
        Assert.Equal(expected, answer.Text);
        Assert.Equal("length", answer.FinishReason);
        await host.StopAsync();
    }
}

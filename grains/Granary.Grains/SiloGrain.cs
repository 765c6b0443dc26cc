using System.Diagnostics;
using Granary.Cluster;
using Granary.Grains.Contracts;
using Granary.Grains.Placement;
using Orleans.Concurrency;

namespace Granary.Grains;

/// <summary><see cref="ISiloGrain"/>: answers from the silo's options, its gateway and its <see cref="ReplicaHost"/>.</summary>
[PinnedPlacement, Reentrant]
internal sealed class SiloGrain(ReplicaHost host, ClusterOptions options, SiloRoles roles) : Grain, ISiloGrain
{
    public Task<SiloInfo> GetInfoAsync() => Task.FromResult(new SiloInfo
    {
        Name = options.SiloName,
        Host = options.AdvertisedHost,
        Devices = options.Devices,
        Roles = roles.GatewayUrl is null ? [] : ["gateway"],
        GatewayUrl = roles.GatewayUrl,
        RankPortBase = options.RankPortBase,
        Load = host.Load(),
    });

    public Task<IReadOnlyList<ReplicaState>> ApplyAsync(IReadOnlyList<ReplicaAssignment> assignments) => Task.FromResult(host.Apply(assignments));

    public Task<byte[]> EchoAsync(byte[] plan, int responseBytes) => Task.FromResult(new byte[responseBytes]);

    public async Task<CallTimings> TimeCallsAsync(string target, int calls, int requestBytes, int responseBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(calls, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(requestBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(responseBytes);
        var far = GrainFactory.GetGrain<ISiloGrain>(SiloGrainKey.For(target));
        var plan = new byte[requestBytes];
        Random.Shared.NextBytes(plan);
        for (int i = 0, warmup = Math.Clamp(calls / 5, 200, 5000); i < warmup; i++) await far.EchoAsync(plan, responseBytes);
        var ticks = new long[calls];
        for (int i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            var answer = await far.EchoAsync(plan, responseBytes);
            ticks[i] = Stopwatch.GetTimestamp() - start;
            if (answer.Length != responseBytes) throw new InvalidDataException($"the answer has {answer.Length} bytes, not {responseBytes}");
        }
        Array.Sort(ticks);
        double us = 1e6 / Stopwatch.Frequency;
        return new CallTimings(calls, requestBytes, responseBytes, ticks.Average() * us, ticks[calls / 2] * us,
            ticks[Math.Min(calls - 1, (int)Math.Ceiling(calls * 0.99) - 1)] * us, ticks[0] * us, ticks[^1] * us);
    }
}

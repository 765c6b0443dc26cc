using System.Diagnostics;
using System.Security.Cryptography;

namespace Granary.Cluster.Transport;

/// <summary>
/// Measures the per-step control path between silos: one <see cref="SiloClient.CallAsync"/> after another to a
/// <see cref="SiloEndpoint"/> on loopback (its own, with a throwaway secret), with a body the size of a step plan.
/// </summary>
public static class ControlPathBenchmark
{
    private const string GrainType = "bench";
    private const string Method = "step";

    /// <summary>
    /// Warms up, then makes <paramref name="calls"/> sequential calls of <paramref name="requestBytes"/> each, answered
    /// with <paramref name="responseBytes"/>, and reports their round trips. A step plan of 16 sequences is about 1 KB,
    /// its answer (sampled tokens) 64 bytes.
    /// </summary>
    public static async Task<ControlPathResult> RunAsync(int calls, int requestBytes, int responseBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(calls, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(requestBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(responseBytes);
        var options = new ClusterOptions
        {
            ClusterId = "bench",
            Secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
            AdvertisedHost = "127.0.0.1",
            Port = 0,
        };
        byte[] answer = new byte[responseBytes];
        byte[] request = new byte[requestBytes];
        Random.Shared.NextBytes(request);
        Random.Shared.NextBytes(answer);

        await using var endpoint = new SiloEndpoint(options, "bench@127.0.0.1/0");
        endpoint.Map(GrainType, Method, (_, body, _) =>
        {
            if (body.Length != requestBytes) throw new InvalidDataException($"the step body has {body.Length} bytes, not {requestBytes}");
            return ValueTask.FromResult<ReadOnlyMemory<byte>>(answer);
        });
        await endpoint.StartAsync(cancellationToken).ConfigureAwait(false);
        using var client = new SiloClient(options);
        TimeSpan timeout = TimeSpan.FromSeconds(10);

        int warmup = Math.Clamp(calls / 5, 200, 5000);
        for (int i = 0; i < warmup; i++) await Call().ConfigureAwait(false);

        var ticks = new long[calls];
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        for (int i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await Call().ConfigureAwait(false);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;

        Array.Sort(ticks);
        double us = 1e6 / Stopwatch.Frequency;
        return new ControlPathResult(calls, requestBytes, responseBytes,
            MeanMicroseconds: ticks.Average() * us,
            MedianMicroseconds: ticks[calls / 2] * us,
            P99Microseconds: ticks[Math.Min(calls - 1, (int)Math.Ceiling(calls * 0.99) - 1)] * us,
            MinMicroseconds: ticks[0] * us,
            MaxMicroseconds: ticks[^1] * us,
            AllocatedBytesPerCall: (double)allocated / calls);

        async Task Call()
        {
            byte[] got = await client.CallAsync(endpoint.Url, GrainType, "replica-0/rank-1", Method, request, timeout, cancellationToken).ConfigureAwait(false);
            if (got.Length != responseBytes) throw new InvalidDataException($"the answer has {got.Length} bytes, not {responseBytes}");
        }
    }
}

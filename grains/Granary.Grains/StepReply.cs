using System.Runtime.InteropServices;
using Granary.Engine;

namespace Granary.Grains;

/// <summary>
/// What a silo answers one step of a replica that spans silos: nothing, unless it holds the replica's logits rank;
/// then the k largest logits of each logit row with their ids and each row's log-sum-exp (k = the plan's
/// <see cref="Granary.Compute.BatchLayout.SampleCandidates"/>: ids, then values, then log-sum-exps), or every logit row
/// whole when some row needs its whole vocabulary (SampleCandidates -1). Only what sampling reads crosses the network.
/// </summary>
internal static class StepReply
{
    public static byte[] Write(RankThreads threads, int logitRows, int vocab, int candidates)
    {
        if (threads.LogitsShard is null || logitRows == 0 || candidates == 0) return [];
        if (candidates < 0)
        {
            var whole = new byte[logitRows * vocab * sizeof(float)];
            var rows = MemoryMarshal.Cast<byte, float>(whole.AsSpan());
            for (int r = 0; r < logitRows; r++) threads.ReadLogits(r, rows.Slice(r * vocab, vocab));
            return whole;
        }
        int k = candidates, n = logitRows * k;
        var bytes = new byte[n * 8 + logitRows * 4];
        threads.TopLogits(k, MemoryMarshal.Cast<byte, int>(bytes.AsSpan(0, n * 4)), MemoryMarshal.Cast<byte, float>(bytes.AsSpan(n * 4, n * 4)),
            MemoryMarshal.Cast<byte, float>(bytes.AsSpan(n * 8)));
        return bytes;
    }

    /// <summary>Copies a top-k reply's three parts out.</summary>
    public static void ReadTopK(ReadOnlySpan<byte> reply, int logitRows, int k, Span<int> ids, Span<float> values, Span<float> logSumExp)
    {
        int n = logitRows * k;
        MemoryMarshal.Cast<byte, int>(reply[..(n * 4)]).CopyTo(ids);
        MemoryMarshal.Cast<byte, float>(reply.Slice(n * 4, n * 4)).CopyTo(values);
        MemoryMarshal.Cast<byte, float>(reply[(n * 8)..]).CopyTo(logSumExp);
    }
}

using System.Runtime.InteropServices;
using Granary.Engine;

namespace Granary.Grains;

/// <summary>
/// What a silo answers one step of a replica that spans silos: nothing, unless it holds the replica's logits rank;
/// then the k largest logits of each logit row (a <see cref="TopKReply"/>, k = the plan's
/// <see cref="Granary.Compute.BatchLayout.SampleCandidates"/>), or every logit row whole when some row needs its whole
/// vocabulary (SampleCandidates -1). Only what sampling reads crosses the network.
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
        int k = candidates;
        var bytes = new byte[TopKReply.Bytes(logitRows, k)];
        threads.TopLogits(k, TopKReply.Ids(bytes, logitRows, k), TopKReply.Values(bytes, logitRows, k), TopKReply.LogSumExp(bytes, logitRows, k));
        return bytes;
    }
}

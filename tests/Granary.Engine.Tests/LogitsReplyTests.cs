using System.Runtime.InteropServices;
using Granary.Engine;
using Xunit;

namespace Granary.Engine.Tests;

/// <summary>The reply of a logits rank in another process, as both executors that drive such ranks read it.</summary>
public sealed class LogitsReplyTests
{
    private const int Vocab = 5;
    private static readonly float[] Rows = [0.5f, 2f, -1f, 3f, 1f, /* row 1 */ 4f, 0f, 0f, 1f, -2f];

    [Fact]
    public void WholeRowsAreReadBackAndTheirTopKIsSelectedHere()
    {
        var reply = new LogitsReply(Vocab);
        MemoryMarshal.AsBytes(Rows.AsSpan()).CopyTo(reply.Receive(rows: 2, candidates: -1));
        var row = new float[Vocab];
        reply.ReadLogits(1, row);
        Assert.Equal(Rows[5..], row);
        var (ids, values, lse) = (new int[4], new float[4], new float[2]);
        reply.TopLogits(2, ids, values, lse);
        Assert.Equal([3, 1, 0, 3], ids);
        Assert.Equal([3f, 2f, 4f, 1f], values);
        Assert.Equal(MathF.Log(Rows[..5].Sum(MathF.Exp)), lse[0], 1e-5f);
    }

    [Fact]
    public void ATopKReplyAnswersThatKOnlyWithAClearError()
    {
        // What the logits rank sends for k = 1: ids, values, each row's log-sum-exp.
        var bytes = new byte[TopKReply.Bytes(2, 1)];
        TopKReply.Ids(bytes, 2, 1)[0] = 3; TopKReply.Ids(bytes, 2, 1)[1] = 0;
        TopKReply.Values(bytes, 2, 1)[0] = 3f; TopKReply.Values(bytes, 2, 1)[1] = 4f;
        TopKReply.LogSumExp(bytes, 2, 1).Fill(7f);
        var reply = new LogitsReply(Vocab);
        reply.Take(bytes, rows: 2, candidates: 1);
        var (ids, values, lse) = (new int[2], new float[2], new float[2]);
        reply.TopLogits(1, ids, values, lse);
        Assert.Equal([3, 0], ids);
        Assert.Equal([3f, 4f], values);
        Assert.Equal([7f, 7f], lse);
        Assert.Contains("not 2", Assert.Throws<InvalidOperationException>(() => reply.TopLogits(2, new int[4], new float[4], lse)).Message);
        Assert.Contains("only the largest", Assert.Throws<InvalidOperationException>(() => reply.ReadLogits(0, new float[Vocab])).Message);
        reply.Take([], rows: 2, candidates: 0);
        Assert.Contains("no logits", Assert.Throws<InvalidOperationException>(() => reply.ReadLogits(0, new float[Vocab])).Message);
    }
}

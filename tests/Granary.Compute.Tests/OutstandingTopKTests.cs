using Granary.Compute.Cpu;

namespace Granary.Compute.Tests;

/// <summary>
/// The CPU backend's BeginTopK: results kept until read while a step fed from them runs (async scheduling with the
/// tokens fed on the backend), the fed embedding, and no stale result ever read for a later request.
/// </summary>
public class OutstandingTopKTests
{
    private const int Rows = 2, Vocab = 10, K = 3, Dim = 4;

    private static DeviceBuffer Logits(CpuBackend cpu, int best0, int best1)
    {
        var data = new float[Rows * Vocab];
        for (int i = 0; i < data.Length; i++) data[i] = -(i % Vocab);
        data[best0] = 5;
        data[Vocab + best1] = 5;
        var logits = cpu.Allocate(DType.F32, data.Length);
        cpu.CopyFromHost(data, logits);
        return logits;
    }

    private static (int[] Ids, float[] Values, float[] LogSumExp) Read(CpuBackend cpu, DeviceBuffer logits)
    {
        var result = (new int[Rows * K], new float[Rows * K], new float[Rows]);
        cpu.TopK(logits, Rows, Vocab, 1, K, result.Item1, result.Item2, result.Item3);
        return result;
    }

    private static BatchLayout FedBatch(params int[] sources)
    {
        var batch = new BatchLayout(sources.Length, sources.Length, 1);
        for (int r = 0; r < sources.Length; r++) (batch.Positions[r], batch.RowSequence[r], batch.LogitRows[r], batch.TokenSources[r]) = (r, r, r, sources[r]);
        batch.Commit(sources.Length, sources.Length, sources.Length);
        batch.FeedsTokens = true;
        return batch;
    }

    /// <summary>Row i of the table is i everywhere, so an embedded row says which id it took.</summary>
    private static DeviceBuffer Table(CpuBackend cpu)
    {
        var data = new float[Vocab * Dim];
        for (int i = 0; i < data.Length; i++) data[i] = i / Dim;
        var table = cpu.Allocate(DType.F32, data.Length);
        cpu.CopyFromHost(data, table);
        return table;
    }

    [Fact]
    public void AFedStepTakesTheBestIdsAndBothStepsReadTheirOwnResults()
    {
        using var cpu = new CpuBackend();
        var first = Logits(cpu, 7, 2);
        cpu.BeginTopK(first, Rows, Vocab, 1, K);
        var output = cpu.Allocate(DType.F32, Rows * Dim);
        cpu.Embedding(Table(cpu), 0, Vocab, Dim, FedBatch(1, 0), output);
        var embedded = new float[Rows * Dim];
        cpu.CopyToHost(output, embedded);
        Assert.Equal([2f, 2, 2, 2, 7, 7, 7, 7], embedded);

        // The fed step overwrites the logits before the first step is read, as the next step's forward does.
        var next = new float[Rows * Vocab];
        next[4] = 9;
        next[Vocab + 6] = 9;
        cpu.CopyFromHost(next, first);
        cpu.BeginTopK(first, Rows, Vocab, 1, K);
        Assert.Equal([7, 0, 1, 2, 0, 1], Read(cpu, first).Ids);
        Assert.Equal([4, 0, 1, 6, 0, 1], Read(cpu, first).Ids);
        Assert.Equal(4, Read(cpu, first).Ids[0]); // nothing outstanding: computed from the logits as they are
    }

    [Fact]
    public void ResultsLeftUnreadAreNotTakenForALaterRequest()
    {
        using var cpu = new CpuBackend();
        var logits = Logits(cpu, 7, 2);
        cpu.BeginTopK(logits, Rows, Vocab, 1, K); // never read
        cpu.CopyFromHost(Enumerable.Range(0, Rows * Vocab).Select(i => i % Vocab == 3 ? 1f : 0f).ToArray(), logits);
        cpu.BeginTopK(logits, Rows, Vocab, 1, K); // no step fed from the first: it is dropped
        var (ids, _, _) = Read(cpu, logits);
        Assert.Equal(3, ids[0]);
        Assert.Equal(3, ids[K]);
    }

    [Fact]
    public void AFedStepWithoutATopKOrPastItsRowsIsRefused()
    {
        using var cpu = new CpuBackend();
        var table = Table(cpu);
        var output = cpu.Allocate(DType.F32, 2 * Dim);
        Assert.Throws<InvalidOperationException>(() => cpu.Embedding(table, 0, Vocab, Dim, FedBatch(0, 1), output));
        cpu.BeginTopK(Logits(cpu, 1, 2), Rows, Vocab, 1, K);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => cpu.Embedding(table, 0, Vocab, Dim, FedBatch(0, 2), output));
        Assert.Contains("2 rows", error.Message);
        cpu.BeginTopK(Logits(cpu, 1, 2), Rows, Vocab, 1, 0);
        Assert.Throws<InvalidOperationException>(() => cpu.Embedding(table, 0, Vocab, Dim, FedBatch(0, 1), output));
    }
}

using Granary.Compute;

namespace Granary.Cuda.Tests;

/// <summary>
/// Two top-ks outstanding at once and a step fed from the first (async scheduling with the tokens fed on the device):
/// each top-k still reads its own results, and the fed embedding takes the first one's best ids, as on the CPU.
/// </summary>
internal sealed partial class OpChecks
{
    private void FedTopK()
    {
        const int rows = 3, vocab = 5000, k = 4, dim = 64;
        var (first, second) = (FedLogits(rows * vocab), FedLogits(rows * vocab));
        var table = Weights(Random(vocab * dim), DType.F32);
        var batch = new BatchLayout(rows, rows, 1);
        for (int r = 0; r < rows; r++)
        {
            (batch.Positions[r], batch.RowSequence[r], batch.SlotMapping[r], batch.LogitRows[r]) = (r, r, r, r);
            batch.TokenSources[r] = (r + 2) % rows;
        }
        batch.Commit(rows, rows, rows);
        batch.FeedsTokens = true;
        var emb = Pair(Random(rows * dim), DType.F32);
        var results = new List<int[]>();
        foreach (var (backend, a, b, e) in new (IBackend, DeviceBuffer, DeviceBuffer, DeviceBuffer)[] { (_gpu, first.Gpu, second.Gpu, emb.Gpu), (_cpu, first.Cpu, second.Cpu, emb.Cpu) })
        {
            backend.BeginTopK(a, rows, vocab, 1, k);
            backend.Embedding(ReferenceEquals(backend, _gpu) ? table.Gpu : table.Cpu, 0, vocab, dim, batch, e);
            backend.BeginTopK(b, rows, vocab, 1, k);
            var (ia, va, la) = (new int[rows * k], new float[rows * k], new float[rows]);
            var (ib, vb, lb) = (new int[rows * k], new float[rows * k], new float[rows]);
            backend.TopK(a, rows, vocab, 1, k, ia, va, la);
            backend.TopK(b, rows, vocab, 1, k, ib, vb, lb);
            results.Add([.. ia, .. ib]);
        }
        bool ok = results[0].SequenceEqual(results[1]);
        if (!ok) Failures++;
        _log.WriteLine($"  {(ok ? "ok  " : "FAIL")} two top-ks outstanding, each read after both began {(ok ? "" : $"gpu [{string.Join(',', results[0])}], cpu [{string.Join(',', results[1])}]")}");
        Compare("Embedding fed from the first top-k's best ids", emb, rows * dim);
        batch.FeedsTokens = false;
    }

    private (DeviceBuffer Gpu, DeviceBuffer Cpu) FedLogits(int length)
    {
        var data = Random(length, 8f);
        var pair = (_gpu.Allocate(DType.F32, length), _cpu.Allocate(DType.F32, length));
        _buffers.Add(pair.Item1);
        _buffers.Add(pair.Item2);
        _gpu.CopyFromHost(data, pair.Item1);
        _cpu.CopyFromHost(data, pair.Item2);
        return pair;
    }
}

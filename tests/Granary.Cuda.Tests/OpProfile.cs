using System.Diagnostics;
using Granary.Compute;

namespace Granary.Cuda.Tests;

/// <summary>
/// Time per op at the Llama-3.2-1B shapes (hidden 2048, 32/8 heads of 64, intermediate 8192, vocab
/// 128256) for 1 and 32 rows: each op issued back to back many times, then one sync; GB/s counts the
/// weight bytes read. Where a decode step's time goes, without a profiler.
/// </summary>
internal static class OpProfile
{
    public static int Run(TextWriter log)
    {
        using var gpu = new CudaBackend(new CudaBackendOptions { Graphs = false });
        log.WriteLine($"{gpu.Name}");
        var random = new Random(5);
        var buffers = new List<DeviceBuffer>();
        DeviceBuffer Act(long n)
        {
            var data = new float[n];
            for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() - 0.5);
            var b = gpu.Allocate(gpu.ActivationType, n);
            gpu.CopyFromHost(data, b);
            buffers.Add(b);
            return b;
        }
        DeviceBuffer Weight(int outF, int inF)
        {
            var bytes = new byte[(long)outF * inF * 2];
            for (long i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7 % 251 & 0x3f);
            var b = gpu.Upload(DType.BF16, bytes);
            buffers.Add(b);
            return b;
        }
        double Time(Action op, int reps = 200)
        {
            for (int i = 0; i < 5; i++) op();
            gpu.Synchronize();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) op();
            gpu.Synchronize();
            return clock.Elapsed.TotalMilliseconds * 1000 / reps;
        }
        const int hidden = 2048, heads = 32, kvHeads = 8, headDim = 64, inter = 8192, vocab = 128256;
        var shapes = new (string Name, int Out, int In)[] { ("q/o 2048x2048", 2048, 2048), ("k/v 512x2048", 512, 2048), ("gate/up 8192x2048", 8192, 2048), ("down 2048x8192", 2048, 8192), ("lm_head 128256x2048", vocab, 2048) };
        foreach (int rows in new[] { 1, 32 })
        {
            log.WriteLine($"-- rows {rows}");
            var x = Act((long)rows * inter);
            var y = Act((long)rows * vocab);
            foreach (var (name, outF, inF) in shapes)
            {
                var w = Weight(outF, inF);
                double us = Time(() => gpu.MatMul(x, w, null, y, rows, inF, outF), outF == vocab ? 50 : 200);
                log.WriteLine($"  MatMul {name,-22} {us,8:F1} us  {(double)outF * inF * 2 / (us * 1e-6) / 1e9,7:F0} GB/s");
            }
            {
                var wq = Weight(hidden, hidden); var wk = Weight(512, hidden); var wv = Weight(512, hidden);
                var yq = Act((long)rows * hidden); var yk = Act((long)rows * 512); var yv = Act((long)rows * 512);
                double us = Time(() => gpu.MatMul(x, [new Projection(wq, null, yq, hidden), new Projection(wk, null, yk, 512), new Projection(wv, null, yv, 512)], rows, hidden));
                log.WriteLine($"  MatMul q+k+v fused            {us,8:F1} us  {(double)3072 * hidden * 2 / (us * 1e-6) / 1e9,7:F0} GB/s");
                var wg = Weight(inter, hidden); var wu = Weight(inter, hidden);
                var go = Act((long)rows * inter); var uo = Act((long)rows * inter);
                us = Time(() => gpu.GatedMatMul(x, wg, wu, go, uo, rows, hidden, inter));
                log.WriteLine($"  GatedMatMul 2x8192x2048       {us,8:F1} us  {(double)2 * inter * hidden * 2 / (us * 1e-6) / 1e9,7:F0} GB/s");
                var logitsF = gpu.Allocate(DType.F32, (long)rows * vocab);
                buffers.Add(logitsF);
                var ids = new int[rows * 20]; var values = new float[rows * 20]; var lse = new float[rows];
                log.WriteLine($"  TopK k=1 (greedy), to host    {Time(() => gpu.TopK(logitsF, rows, vocab, 1, 1, ids, values, lse), 50),8:F1} us");
                log.WriteLine($"  TopK k=20 (logprobs), to host {Time(() => gpu.TopK(logitsF, rows, vocab, 1, 20, ids, values, lse), 20),8:F1} us");
            }
            var res = gpu.Allocate(gpu.ResidualType, (long)rows * hidden);
            buffers.Add(res);
            var norm = Act(hidden);
            log.WriteLine($"  AddRmsNorm                    {Time(() => gpu.AddRmsNorm(res, x, norm, y, rows, hidden, 1e-5f)),8:F1} us");
            log.WriteLine($"  SiluMul                       {Time(() => gpu.SiluMul(x, y, x, (long)rows * inter)),8:F1} us");

            const int blockSize = 16, context = 192;
            int blocksPerSeq = (context + blockSize) / blockSize;
            var batch = new BatchLayout(rows, rows, blocksPerSeq);
            for (int r = 0; r < rows; r++)
            {
                for (int b = 0; b < blocksPerSeq; b++) batch.BlockTables[r * blocksPerSeq + b] = r * blocksPerSeq + b;
                batch.Positions[r] = context;
                batch.RowSequence[r] = r;
                batch.SlotMapping[r] = r * blocksPerSeq * blockSize + context;
                batch.LogitRows[r] = r;
            }
            batch.Commit(rows, rows, rows);
            var cosSin = gpu.Upload(DType.F32, new byte[(context + 1) * headDim * 4]);
            buffers.Add(cosSin);
            long cache = (long)rows * blocksPerSeq * blockSize * kvHeads * headDim;
            var kc = Act(cache);
            var vc = Act(cache);
            var q = Act((long)rows * heads * headDim);
            var k = Act((long)rows * kvHeads * headDim);
            log.WriteLine($"  Rope q                        {Time(() => gpu.Rope(q, rows, heads, headDim, batch, cosSin)),8:F1} us");
            log.WriteLine($"  WriteKv                       {Time(() => gpu.WriteKv(k, k, kc, vc, kvHeads * headDim, batch)),8:F1} us");
            log.WriteLine($"  Attention (context {context + 1})       {Time(() => gpu.Attention(q, kc, vc, y, heads, kvHeads, headDim, blockSize, 0.125f, batch)),8:F1} us");
            var logits = Act((long)rows * vocab);
            var host = new float[vocab];
            log.WriteLine($"  CopyToHost of every logit row {Time(() => { gpu.Add(logits, logits, 1); for (int r = 0; r < rows; r++) gpu.CopyToHost(logits, host, (long)r * vocab); }, 20),8:F1} us");
        }
        foreach (var b in buffers) b.Dispose();
        return 0;
    }
}

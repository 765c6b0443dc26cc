using System.Diagnostics;
using Granary.Compute;

namespace Granary.Cuda.Tests;

/// <summary>
/// Time per op at the Llama-3.2-1B shapes (hidden 2048, 32/8 heads of 64, intermediate 8192, vocab
/// 128256) for 1 and 32 rows, as a decode step runs them: each op issued many times in a row, that
/// sequence replayed as a CUDA graph, the replay timed. Weight matrices rotate over copies of 256 MB or
/// more in all, so that the GPU's L2 cache cannot hold them from one launch to the next. GB/s counts the
/// weight bytes read. Where a decode step's time goes, without a profiler. With <c>fp8</c> the weights are FP8
/// codes with their scales (quantized once, uploaded as an FP8 checkpoint's), at 1, 8, 32 and 64 rows.
/// </summary>
internal static class OpProfile
{
    private const int Repeats = 64;

    public static int Run(TextWriter log, bool fp8)
    {
        using var gpu = new CudaBackend(new CudaBackendOptions { Graphs = true });
        log.WriteLine($"{gpu.Name}{(fp8 ? ", FP8 weights" : "")}");
        double wb = fp8 ? 1 : 2;
        foreach (string line in gpu.KernelInfo()) log.WriteLine($"  {line}");
        var random = new Random(5);
        var buffers = new List<DeviceBuffer>();
        DeviceBuffer Act(long n, DType? type = null)
        {
            var data = new float[n];
            for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() - 0.5);
            var b = gpu.Allocate(type ?? gpu.ActivationType, n);
            gpu.CopyFromHost(data, b);
            buffers.Add(b);
            return b;
        }
        // Copies of [outF, inF] bf16 matrices stacked as the model loads them (q, k and v; gate and up), enough copies
        // to outgrow the L2 cache: [matrix][copy].
        DeviceBuffer[][] Stacked(int inF, params int[] outFs)
        {
            var bytes = new byte[(long)outFs.Sum() * inF * 2];
            for (long i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7 % 251 & 0x3f);
            int copies = (int)Math.Clamp((256L << 20) / (bytes.Length / 2 * (long)wb) + 1, 1, 64);
            var sets = outFs.Select(_ => new DeviceBuffer[copies]).ToArray();
            var codes = fp8 ? Compute.Fp8.Fp8Weights.Quantize(HostConversions.ToFloat(DType.BF16, bytes), inF) : null;
            for (int c = 0; c < copies; c++)
            {
                var stack = codes is null ? gpu.Upload(DType.BF16, bytes) : gpu.UploadWeight(DType.F8E4M3, codes, inF);
                buffers.Add(stack);
                long offset = 0;
                for (int m = 0; m < outFs.Length; m++)
                {
                    sets[m][c] = gpu.Slice(stack, offset, (long)outFs[m] * inF);
                    offset += (long)outFs[m] * inF;
                }
            }
            return sets;
        }
        DeviceBuffer[] Weights(int outF, int inF) => Stacked(inF, outF)[0];
        // The op (given its repetition's index) Repeats times, then a sync: the third such step is replayed as a graph.
        double Time(Action<int> op)
        {
            double best = double.MaxValue;
            for (int step = 0; step < 6; step++)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < Repeats; i++) op(i);
                gpu.Synchronize();
                if (step >= 3) best = Math.Min(best, clock.Elapsed.TotalMilliseconds * 1000 / Repeats);
            }
            return best;
        }
        string Rate(double bytes, double us) => $"{bytes / (us * 1e-6) / 1e9,7:F0} GB/s";

        const int hidden = 2048, heads = 32, kvHeads = 8, headDim = 64, inter = 8192, vocab = 128256, kvDim = kvHeads * headDim;
        foreach (int rows in fp8 ? new[] { 1, 8, 32, 64 } : new[] { 1, 32 })
        {
            log.WriteLine($"-- rows {rows}");
            var x = Act((long)rows * inter);
            var residual = Act((long)rows * hidden, DType.F32);
            var norm = Act(hidden);
            var normed = Act((long)rows * hidden);
            var logits = Act((long)rows * vocab, DType.F32);
            var q = Act((long)rows * hidden);
            var k = Act((long)rows * kvDim);
            var v = Act((long)rows * kvDim);
            var scratch = Act((long)rows * inter);
            var qkv = Stacked(hidden, hidden, kvDim, kvDim);
            var (wq, wk, wv) = (qkv[0], qkv[1], qkv[2]);
            var wo = Weights(hidden, hidden);
            var gateUp = Stacked(hidden, inter, inter);
            var (wg, wu) = (gateUp[0], gateUp[1]);
            var wd = Weights(hidden, inter);
            var head = Weights(vocab, hidden);
            double us = Time(i => gpu.NormMatMul(residual, norm, 1e-5f, normed,
                [new(wq[i % wq.Length], null, q, hidden), new(wk[i % wk.Length], null, k, kvDim), new(wv[i % wv.Length], null, v, kvDim)], rows, hidden));
            log.WriteLine($"  norm + q/k/v {"3072x2048",-16} {us,8:F1} us  {Rate(3072.0 * hidden * wb, us)}");
            us = Time(i => gpu.MatMulAddResidual(q, wo[i % wo.Length], null, scratch, residual, rows, hidden, hidden));
            log.WriteLine($"  o + residual {"2048x2048",-16} {us,8:F1} us  {Rate(2048.0 * hidden * wb, us)}");
            us = Time(i => gpu.NormGatedMatMul(residual, norm, 1e-5f, normed, wg[i % wg.Length], wu[i % wu.Length], x, scratch, rows, hidden, inter));
            log.WriteLine($"  norm + gate/up {"2x8192x2048",-14} {us,8:F1} us  {Rate(2.0 * inter * hidden * wb, us)}");
            us = Time(i => gpu.MatMulAddResidual(x, wd[i % wd.Length], null, scratch, residual, rows, inter, hidden));
            log.WriteLine($"  down + residual {"2048x8192",-13} {us,8:F1} us  {Rate(2048.0 * inter * wb, us)}");
            us = Time(i => gpu.NormMatMul(residual, norm, 1e-5f, normed, [new(head[i % head.Length], null, logits, vocab)], rows, hidden));
            log.WriteLine($"  norm + lm_head {"128256x2048",-14} {us,8:F1} us  {Rate((double)vocab * hidden * wb, us)}");
            us = Time(i => gpu.MatMul(q, [new(wq[i % wq.Length], null, normed, hidden)], rows, hidden));
            log.WriteLine($"  MatMul {"2048x2048",-22} {us,8:F1} us  {Rate(2048.0 * hidden * wb, us)}");

            var ids = new int[rows * 20]; var values = new float[rows * 20]; var lse = new float[rows];
            foreach (int top in new[] { 1, 20 })
            {
                for (int i = 0; i < 3; i++) gpu.TopK(logits, rows, vocab, 1, top, ids, values, lse); // until it replays as a graph
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < 20; i++) gpu.TopK(logits, rows, vocab, 1, top, ids, values, lse);
                log.WriteLine($"  TopK k={top,-2}, to the host           {clock.Elapsed.TotalMilliseconds * 1000 / 20,8:F1} us");
            }
            log.WriteLine($"  RmsNorm                         {Time(_ => gpu.RmsNorm(residual, norm, normed, rows, hidden, 1e-5f)),8:F1} us");

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
            long cache = (long)rows * blocksPerSeq * blockSize * kvDim;
            var kc = Act(cache);
            var vc = Act(cache);
            log.WriteLine($"  Attention (context {context + 1})         {Time(_ => gpu.Attention(q, kc, vc, normed, heads, kvHeads, headDim, blockSize, 0.125f, batch)),8:F1} us");
            log.WriteLine($"  RopeAttention (context {context + 1})     {Time(_ => gpu.RopeAttention(q, k, v, kc, vc, normed, heads, kvHeads, headDim, blockSize, 0.125f, batch, cosSin)),8:F1} us");
        }
        log.WriteLine($"steps replayed as graphs: {gpu.GraphReplays}");
        foreach (var b in buffers) b.Dispose();
        return 0;
    }
}

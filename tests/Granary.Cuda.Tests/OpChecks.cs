using Granary.Compute;
using Granary.Compute.Cpu;

namespace Granary.Cuda.Tests;

/// <summary>
/// Every op of the CUDA backend against the CPU backend on the same random inputs (rounded to bf16 first
/// when activations are bf16, so both see identical values): relative L2 error per op, bf16 and float32
/// activations, the GEMV and cuBLAS paths, chunked attention over long contexts, GQA and odd head sizes.
/// </summary>
internal sealed partial class OpChecks : IDisposable
{
    private readonly CudaBackend _gpu;
    // One thread: the CPU worker pool can hang with several threads (seen 2026-11-22, Threads 4 and 8), and these inputs are small.
    private readonly IBackend _cpu = new CpuBackend(new CpuBackendOptions { Threads = 1 });
    private readonly TextWriter _log;
    private readonly Random _random = new(17);
    private readonly double _tolerance;
    private readonly List<DeviceBuffer> _buffers = [];
    public int Failures { get; private set; }

    private OpChecks(bool f32, TextWriter log)
    {
        _gpu = new CudaBackend(new CudaBackendOptions { Float32Activations = f32 });
        _log = log;
        _tolerance = f32 ? 1e-4 : 1.5e-2;
        log.WriteLine($"{_gpu.Name}: kernels {(_gpu.KernelsFromCache ? "loaded from the cache" : "compiled by NVRTC")} in {_gpu.KernelLoadTime.TotalMilliseconds:F0} ms");
    }

    public static int Run(TextWriter log)
    {
        int failures = 0;
        foreach (bool f32 in new[] { false, true })
        {
            using var checks = new OpChecks(f32, log);
            checks.All();
            failures += checks.Failures;
        }
        log.WriteLine(failures == 0 ? "ops: all passed" : $"ops: {failures} FAILED");
        return failures;
    }

    private DType Act => _gpu.ActivationType;

    private float[] Random(int n, float scale = 1f)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (float)(_random.NextDouble() * 2 - 1) * scale;
        if (Act == DType.BF16) data = HostConversions.ToFloat(DType.BF16, HostConversions.FromFloat(data, DType.BF16));
        return data;
    }

    private (DeviceBuffer Gpu, DeviceBuffer Cpu) Pair(float[] data, DType? gpuType = null)
    {
        var g = _gpu.Allocate(gpuType ?? Act, data.Length);
        _gpu.CopyFromHost(data, g);
        var c = _cpu.Allocate(DType.F32, data.Length);
        _cpu.CopyFromHost(data, c);
        _buffers.Add(g);
        _buffers.Add(c);
        return (g, c);
    }

    /// <summary>Random bf16 weights of the given row counts: views of one stacked upload, or separate uploads.</summary>
    private (DeviceBuffer Gpu, DeviceBuffer Cpu)[] Stacked(int[] rows, int cols, float scale, bool stacked)
    {
        if (!stacked) return rows.Select(r => Weights(Random(r * cols, scale), DType.BF16)).ToArray();
        var all = Weights(Random(rows.Sum() * cols, scale), DType.BF16);
        var views = new (DeviceBuffer Gpu, DeviceBuffer Cpu)[rows.Length];
        long offset = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            views[i] = (_gpu.Slice(all.Gpu, offset, (long)rows[i] * cols), _cpu.Slice(all.Cpu, offset, (long)rows[i] * cols));
            offset += (long)rows[i] * cols;
        }
        return views;
    }

    private (DeviceBuffer Gpu, DeviceBuffer Cpu) Weights(float[] data, DType dtype)
    {
        var bytes = HostConversions.FromFloat(data, dtype);
        var pair = (_gpu.Upload(dtype, bytes), _cpu.Upload(dtype, bytes));
        _buffers.Add(pair.Item1);
        _buffers.Add(pair.Item2);
        return pair;
    }

    /// <summary>A vector applied in the activation type (norm weights, biases), as the model loader uploads them.</summary>
    private (DeviceBuffer Gpu, DeviceBuffer Cpu) Vector(float[] data)
    {
        var pair = (_gpu.Upload(Act, HostConversions.FromFloat(data, Act)), _cpu.Upload(DType.F32, HostConversions.FromFloat(data, DType.F32)));
        _buffers.Add(pair.Item1);
        _buffers.Add(pair.Item2);
        return pair;
    }

    private void Compare(string name, (DeviceBuffer Gpu, DeviceBuffer Cpu) pair, long length, long offset = 0, double? tolerance = null)
    {
        var g = new float[length];
        var c = new float[length];
        _gpu.CopyToHost(pair.Gpu, g, offset);
        _cpu.CopyToHost(pair.Cpu, c, offset);
        double diff = 0, norm = 0;
        bool nan = false;
        for (int i = 0; i < length; i++)
        {
            nan |= !float.IsFinite(g[i]);
            diff += (double)(g[i] - c[i]) * (g[i] - c[i]);
            norm += (double)c[i] * c[i];
        }
        double error = Math.Sqrt(diff / Math.Max(norm, 1e-30));
        bool ok = !nan && error <= (tolerance ?? _tolerance);
        if (!ok) Failures++;
        _log.WriteLine($"  {(ok ? "ok  " : "FAIL")} {name,-48} rel err {error:E2}{(nan ? " (non-finite values)" : "")}");
    }

    private void All()
    {
        // Poison-free outputs: every output buffer starts with random data so unwritten elements show.
        // Shapes that take the GEMV (one row, rows of 256 to 8192 inputs) and cuBLAS (more rows).
        foreach (var (rows, wtype, bias, inF, outF) in new[] { (1, DType.BF16, false, 256, 200), (3, DType.BF16, true, 256, 200), (8, DType.BF16, false, 256, 200), (7, DType.F32, true, 256, 200),
            (40, DType.BF16, false, 256, 200), (2, DType.F16, false, 256, 200), (33, DType.F32, false, 256, 200), (1, DType.BF16, false, 2048, 520), (5, DType.BF16, true, 4096, 96), (8, DType.BF16, false, 8192, 2048), (1, DType.BF16, true, 8192, 300) })
        {
            var x = Pair(Random(rows * inF));
            var w = Weights(Random(outF * inF, 0.2f), wtype);
            var b = bias ? Vector(Random(outF)) : default;
            var y = Pair(Random(rows * outF));
            _gpu.MatMul(x.Gpu, w.Gpu, bias ? b.Gpu : null, y.Gpu, rows, inF, outF);
            _cpu.MatMul(x.Cpu, w.Cpu, bias ? b.Cpu : null, y.Cpu, rows, inF, outF);
            Compare($"MatMul rows {rows} {outF}x{inF} {wtype}{(bias ? " +bias" : "")}", y, (long)rows * outF);
            if (rows == 40) Compare("CopyToHost at an offset", y, 3 * outF, 5 * outF);
            if (!bias)
            {
                // Float32 output (logits at full precision) from activations of either type.
                var yf = (_gpu.Allocate(DType.F32, rows * outF), _cpu.Allocate(DType.F32, rows * outF));
                _buffers.Add(yf.Item1);
                _buffers.Add(yf.Item2);
                _gpu.MatMul(x.Gpu, w.Gpu, null, yf.Item1, rows, inF, outF);
                _cpu.MatMul(x.Cpu, w.Cpu, null, yf.Item2, rows, inF, outF);
                Compare($"MatMul rows {rows} {outF}x{inF} {wtype} into F32", yf, (long)rows * outF);
            }
        }

        const int R = 7, dim = 320;
        var xn = Pair(Random(R * dim, 3f));
        var wn = Vector(Random(dim));
        var on = Pair(Random(R * dim));
        _gpu.RmsNorm(xn.Gpu, wn.Gpu, on.Gpu, R, dim, 1e-5f);
        _cpu.RmsNorm(xn.Cpu, wn.Cpu, on.Cpu, R, dim, 1e-5f);
        Compare("RmsNorm", on, R * dim);
        // The residual stream is float32 on the GPU whatever the activations.
        var xr = Pair(Random(R * dim, 3f), DType.F32);
        _gpu.RmsNorm(xr.Gpu, wn.Gpu, on.Gpu, R, dim, 1e-5f);
        _cpu.RmsNorm(xr.Cpu, wn.Cpu, on.Cpu, R, dim, 1e-5f);
        Compare("RmsNorm of the float32 residual", on, R * dim);
        var residual = Pair(Random(R * dim, 2f), DType.F32);
        FusedProjections();

        var g = Pair(Random(R * dim, 4f));
        var u = Pair(Random(R * dim, 2f));
        var s = Pair(Random(R * dim));
        _gpu.SiluMul(g.Gpu, u.Gpu, s.Gpu, R * dim);
        _cpu.SiluMul(g.Cpu, u.Cpu, s.Cpu, R * dim);
        Compare("SiluMul", s, R * dim);
        _gpu.SiluMul(g.Gpu, u.Gpu, g.Gpu, R * dim);
        _cpu.SiluMul(g.Cpu, u.Cpu, g.Cpu, R * dim);
        Compare("SiluMul in place", g, R * dim);
        _gpu.Add(u.Gpu, s.Gpu, R * dim);
        _cpu.Add(u.Cpu, s.Cpu, R * dim);
        Compare("Add", u, R * dim);
        _gpu.Add(residual.Gpu, s.Gpu, R * dim);
        _cpu.Add(residual.Cpu, s.Cpu, R * dim);
        Compare("Add into the float32 residual", residual, R * dim);

        // q/k/v in one call (the fused GEMV for one row, cuBLAS beyond: one call for all when the weights are views of one
        // stacked buffer, one each otherwise), with and without biases.
        foreach (var (rows, bias, stacked) in new[] { (1, false, false), (3, true, false), (8, true, false), (20, true, false), (1, true, true), (5, false, true), (20, true, true) })
        {
            const int inF = 512;
            int[] outs = [384, 128, 128];
            var x = Pair(Random(rows * inF));
            var w = Stacked(outs, inF, 0.2f, stacked);
            var targets = outs.Select((o, i) => (W: w[i], B: bias ? Vector(Random(o)) : default, Y: Pair(Random(rows * o)), Out: o)).ToArray();
            _gpu.MatMul(x.Gpu, targets.Select(t => new Projection(t.W.Gpu, bias ? t.B.Gpu : null, t.Y.Gpu, t.Out)).ToArray(), rows, inF);
            _cpu.MatMul(x.Cpu, targets.Select(t => new Projection(t.W.Cpu, bias ? t.B.Cpu : null, t.Y.Cpu, t.Out)).ToArray(), rows, inF);
            for (int i = 0; i < targets.Length; i++) Compare($"MatMul of 3 projections rows {rows}{(bias ? " +bias" : "")}{(stacked ? " stacked" : "")}: #{i}", targets[i].Y, (long)rows * targets[i].Out);
        }
        foreach (var (rows, stacked) in new[] { (1, false), (5, false), (20, false), (5, true), (20, true) })
        {
            const int inF = 768, outF = 1000;
            var x = Pair(Random(rows * inF));
            var w = Stacked([outF, outF], inF, 0.1f, stacked);
            var (wg, wu) = (w[0], w[1]);
            var go = Pair(Random(rows * outF));
            var uo = Pair(Random(rows * outF));
            _gpu.GatedMatMul(x.Gpu, wg.Gpu, wu.Gpu, go.Gpu, uo.Gpu, rows, inF, outF);
            _cpu.GatedMatMul(x.Cpu, wg.Cpu, wu.Cpu, go.Cpu, uo.Cpu, rows, inF, outF);
            Compare($"GatedMatMul rows {rows} {outF}x{inF}{(stacked ? " stacked" : "")}", go, (long)rows * outF);
        }
        TopK();
        FedTopK();
        Fp8();

        // The last two have more (head, row) blocks than one wave of 256 threads holds: attention takes 128-thread blocks.
        foreach (var (heads, kvHeads, headDim) in new[] { (8, 2, 64), (4, 1, 32), (6, 3, 12), (4, 4, 128), (128, 16, 64), (96, 12, 128) })
            Attention(heads, kvHeads, headDim);

        var src = Pair(Random(R * dim));
        var dst = Pair(Random(3 * dim));
        int[] rows3 = [6, 0, 3];
        _gpu.GatherRows(src.Gpu, dst.Gpu, dim, rows3);
        _cpu.GatherRows(src.Cpu, dst.Cpu, dim, rows3);
        Compare("GatherRows", dst, 3 * dim);
        float[] scales = [0.25f, 0.5f, 1.5f];
        int[] rowsRepeat = [2, 5, 2];
        _gpu.ScaleAddRows(dst.Gpu, src.Gpu, dim, rowsRepeat, scales);
        _cpu.ScaleAddRows(dst.Cpu, src.Cpu, dim, rowsRepeat, scales);
        Compare("ScaleAddRows (a row twice)", src, R * dim);
        _gpu.Zero(src.Gpu, dim);
        _cpu.Zero(src.Cpu, dim);
        Compare("Zero", src, R * dim);

        var batch = Layout(out _, 16, 64, [5, 1, 1], [0, 300, 600], out _);
        for (int r = 0; r < batch.Rows; r++) batch.TokenIds[r] = (r * 13) % 50;
        batch.Commit(batch.Rows, batch.Sequences, batch.LogitRowCount);
        foreach (var tableType in new[] { DType.BF16, DType.F32 })
        {
            var table = Weights(Random(30 * dim), tableType);
            foreach (var outType in new[] { Act, DType.F32 })
            {
                var emb = Pair(Random(batch.Rows * dim), outType);
                _gpu.Embedding(table.Gpu, 10, 30, dim, batch, emb.Gpu);
                _cpu.Embedding(table.Cpu, 10, 30, dim, batch, emb.Cpu);
                Compare($"Embedding {tableType} into {outType} (ids outside the shard too)", emb, batch.Rows * dim);
            }
        }
        _gpu.Synchronize();
    }

    /// <summary>
    /// The norm fused into the projections that follow it and the residual add fused into the one before, against
    /// the CPU's separate ops: one row (the GEMV kernel normalizes and adds itself), three rows (separate kernels on
    /// bf16; cuBLAS beyond the kernel's rows), q/k/v with biases, gate/up, and the float32 logits of an LM head.
    /// </summary>
    private void FusedProjections()
    {
        foreach (int rows in new[] { 1, 3 })
        {
            const int hidden = 512, inter = 768;
            var x = Pair(Random(rows * hidden, 3f), DType.F32);
            var norm = Vector(Random(hidden));
            var normed = Pair(Random(rows * hidden));
            int[] outs = [384, 128, 128];
            var targets = outs.Select(o => (W: Weights(Random(o * hidden, 0.2f), DType.BF16), B: Vector(Random(o)), Y: Pair(Random(rows * o)), Out: o)).ToArray();
            _gpu.NormMatMul(x.Gpu, norm.Gpu, 1e-5f, normed.Gpu, targets.Select(t => new Projection(t.W.Gpu, t.B.Gpu, t.Y.Gpu, t.Out)).ToArray(), rows, hidden);
            _cpu.NormMatMul(x.Cpu, norm.Cpu, 1e-5f, normed.Cpu, targets.Select(t => new Projection(t.W.Cpu, t.B.Cpu, t.Y.Cpu, t.Out)).ToArray(), rows, hidden);
            for (int i = 0; i < targets.Length; i++) Compare($"NormMatMul rows {rows} +bias: #{i}", targets[i].Y, (long)rows * targets[i].Out);

            var head = Weights(Random(1000 * hidden, 0.2f), DType.BF16);
            var logits = Pair(Random(rows * 1000), DType.F32);
            _gpu.NormMatMul(x.Gpu, norm.Gpu, 1e-5f, normed.Gpu, [new Projection(head.Gpu, null, logits.Gpu, 1000)], rows, hidden);
            _cpu.NormMatMul(x.Cpu, norm.Cpu, 1e-5f, normed.Cpu, [new Projection(head.Cpu, null, logits.Cpu, 1000)], rows, hidden);
            Compare($"NormMatMul rows {rows} into F32 logits", logits, rows * 1000);

            var wg = Weights(Random(inter * hidden, 0.1f), DType.BF16);
            var wu = Weights(Random(inter * hidden, 0.1f), DType.BF16);
            var go = Pair(Random(rows * inter));
            var uo = Pair(Random(rows * inter));
            _gpu.NormGatedMatMul(x.Gpu, norm.Gpu, 1e-5f, normed.Gpu, wg.Gpu, wu.Gpu, go.Gpu, uo.Gpu, rows, hidden, inter);
            _cpu.NormGatedMatMul(x.Cpu, norm.Cpu, 1e-5f, normed.Cpu, wg.Cpu, wu.Cpu, go.Cpu, uo.Cpu, rows, hidden, inter);
            Compare($"NormGatedMatMul rows {rows} {inter}x{hidden}", go, (long)rows * inter);

            var down = Weights(Random(hidden * inter, 0.1f), DType.BF16);
            var bias = Vector(Random(hidden));
            var scratch = Pair(Random(rows * hidden));
            _gpu.MatMulAddResidual(go.Gpu, down.Gpu, bias.Gpu, scratch.Gpu, x.Gpu, rows, inter, hidden);
            _cpu.MatMulAddResidual(go.Cpu, down.Cpu, bias.Cpu, scratch.Cpu, x.Cpu, rows, inter, hidden);
            Compare($"MatMulAddResidual rows {rows} +bias into the float32 residual", x, (long)rows * hidden);
        }
    }

    /// <summary>TopK must give exactly the CPU's ids (ties to the lower id, NaN skipped), values and log-sum-exp.</summary>
    private void TopK()
    {
        // The last: more parts (of 2048 ids) than 256, so top_k_merge takes a larger block.
        foreach (var (rows, segLen, segments, k) in new[] { (1, 50000, 1, 1), (3, 32000, 1, 20), (4, 6000, 2, 64), (2, 10, 1, 16), (2, 300000, 2, 7) })
        {
            var data = new float[rows * segLen * segments];
            for (int i = 0; i < data.Length; i++) data[i] = (float)Math.Round((_random.NextDouble() * 2 - 1) * 8, 2); // many exact ties
            data[7] = float.NaN;
            data[data.Length - 3] = 100f; // the largest, late in the row
            var g = _gpu.Allocate(DType.F32, data.Length);
            var c = _cpu.Allocate(DType.F32, data.Length);
            _buffers.Add(g);
            _buffers.Add(c);
            _gpu.CopyFromHost(data, g);
            _cpu.CopyFromHost(data, c);
            var (gi, gv, gl) = (new int[rows * k], new float[rows * k], new float[rows]);
            var (ci, cv, cl) = (new int[rows * k], new float[rows * k], new float[rows]);
            _gpu.TopK(g, rows, segLen, segments, k, gi, gv, gl);
            _cpu.TopK(c, rows, segLen, segments, k, ci, cv, cl);
            bool ok = gi.SequenceEqual(ci) && gv.SequenceEqual(cv) && gl.Zip(cl).All(p => Math.Abs(p.First - p.Second) <= 1e-4f * Math.Max(1, Math.Abs(p.Second)));
            if (!ok) Failures++;
            _log.WriteLine($"  {(ok ? "ok  " : "FAIL")} TopK rows {rows} x {segments} segments of {segLen}, k {k,-30} {(ok ? "" : $"gpu [{string.Join(',', gi.Take(8))}] lse {gl[0]}, cpu [{string.Join(',', ci.Take(8))}] lse {cl[0]}")}");
        }
    }

    /// <summary>
    /// Three sequences (a 5-token prefill at 0, decodes at 300 and 600, past the kernel's 256-key chunks)
    /// over shuffled blocks; returns the layout and the rows.
    /// </summary>
    private BatchLayout Layout(out int blocks, int blockSize, int maxBlocksPerSequence, int[] rowsPerSequence, int[] startPositions, out int totalRows)
    {
        int sequences = rowsPerSequence.Length;
        blocks = sequences * maxBlocksPerSequence;
        var order = Enumerable.Range(0, blocks).OrderBy(_ => _random.Next()).ToArray();
        totalRows = rowsPerSequence.Sum();
        var batch = new BatchLayout(totalRows, sequences, maxBlocksPerSequence);
        int row = 0, logit = 0;
        for (int s = 0; s < sequences; s++)
        {
            for (int i = 0; i < maxBlocksPerSequence; i++) batch.BlockTables[s * maxBlocksPerSequence + i] = order[s * maxBlocksPerSequence + i];
            for (int t = 0; t < rowsPerSequence[s]; t++, row++)
            {
                int position = startPositions[s] + t;
                batch.TokenIds[row] = 0;
                batch.Positions[row] = position;
                batch.RowSequence[row] = s;
                batch.SlotMapping[row] = batch.BlockTables[s * maxBlocksPerSequence + position / blockSize] * blockSize + position % blockSize;
            }
            batch.LogitRows[logit++] = row - 1;
        }
        batch.Commit(totalRows, sequences, logit);
        return batch;
    }

    private void Attention(int heads, int kvHeads, int headDim)
    {
        const int blockSize = 16;
        var batch = Layout(out int blocks, blockSize, 40, [5, 1, 1], [0, 300, 600], out int rows);
        int kvDim = kvHeads * headDim;
        long cacheLength = (long)blocks * blockSize * kvDim;
        var kc = Pair(Random((int)cacheLength));
        var vc = Pair(Random((int)cacheLength));
        var q = Pair(Random(rows * heads * headDim));
        var k = Pair(Random(rows * kvDim));
        var v = Pair(Random(rows * kvDim));
        var o = Pair(Random(rows * heads * headDim));

        int maxPositions = 700;
        var cosSin = new float[maxPositions * headDim];
        for (int p = 0; p < maxPositions; p++)
        {
            for (int i = 0; i < headDim / 2; i++)
            {
                double angle = p * Math.Pow(10000, -2.0 * i / headDim);
                cosSin[p * headDim + i] = (float)Math.Cos(angle);
                cosSin[p * headDim + headDim / 2 + i] = (float)Math.Sin(angle);
            }
        }
        var table = Weights(cosSin, DType.F32);
        _gpu.Rope(q.Gpu, rows, heads, headDim, batch, table.Gpu);
        _cpu.Rope(q.Cpu, rows, heads, headDim, batch, table.Cpu);
        Compare($"Rope q {heads}x{headDim}", q, rows * heads * headDim);
        _gpu.Rope(k.Gpu, rows, kvHeads, headDim, batch, table.Gpu);
        _cpu.Rope(k.Cpu, rows, kvHeads, headDim, batch, table.Cpu);

        _gpu.WriteKv(k.Gpu, v.Gpu, kc.Gpu, vc.Gpu, kvDim, batch);
        _cpu.WriteKv(k.Cpu, v.Cpu, kc.Cpu, vc.Cpu, kvDim, batch);
        Compare($"WriteKv keys {kvHeads}x{headDim}", kc, cacheLength);
        Compare($"WriteKv values {kvHeads}x{headDim}", vc, cacheLength);
        float scale = 1f / MathF.Sqrt(headDim);
        _gpu.Attention(q.Gpu, kc.Gpu, vc.Gpu, o.Gpu, heads, kvHeads, headDim, blockSize, scale, batch);
        _cpu.Attention(q.Cpu, kc.Cpu, vc.Cpu, o.Cpu, heads, kvHeads, headDim, blockSize, scale, batch);
        Compare($"Attention {heads}/{kvHeads} heads, dim {headDim}, to pos 600", o, rows * heads * headDim);

        // Rope, the KV write and attention as one call on fresh rows: rope_write_kv then attention for this
        // prefill layout, one kernel for a decode layout (every row its sequence's only row).
        var decode = Layout(out _, blockSize, 40, [1, 1, 1], [300, 17, 600], out _);
        foreach (var (layout, name) in new[] { (batch, "prefill"), (decode, "decode") })
        {
            int n = layout.Rows;
            var q2 = Pair(Random(n * heads * headDim));
            var k2 = Pair(Random(n * kvDim));
            var v2 = Pair(Random(n * kvDim));
            var o2 = Pair(Random(n * heads * headDim));
            _gpu.RopeAttention(q2.Gpu, k2.Gpu, v2.Gpu, kc.Gpu, vc.Gpu, o2.Gpu, heads, kvHeads, headDim, blockSize, scale, layout, table.Gpu);
            _cpu.RopeAttention(q2.Cpu, k2.Cpu, v2.Cpu, kc.Cpu, vc.Cpu, o2.Cpu, heads, kvHeads, headDim, blockSize, scale, layout, table.Cpu);
            Compare($"RopeAttention {name} {heads}/{kvHeads} heads, dim {headDim}", o2, n * heads * headDim);
            Compare($"RopeAttention {name} keys", kc, cacheLength);
            Compare($"RopeAttention {name} values", vc, cacheLength);
        }
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
        _gpu.Dispose();
        _cpu.Dispose();
    }
}

using Granary.Compute;
using Granary.Compute.Fp8;

namespace Granary.Cuda.Tests;

/// <summary>
/// The FP8 weight ops against the CPU, which multiplies by the same values dequantized (code times its row's scale):
/// every row count the FP8 kernel tiles differently (1, 16, 17, 32, 33, 64 and past 64), inputs split into slices or
/// not, q/k/v and gate/up stacked or apart, the residual add, the norm before, the embedding table.
/// </summary>
internal sealed partial class OpChecks
{
    /// <summary>FP8 weights on both sides: the GPU keeps the codes, the CPU gets their float32 values.</summary>
    private (DeviceBuffer Gpu, DeviceBuffer Cpu) Fp8Weights(int rows, int cols, float scale)
    {
        var data = Compute.Fp8.Fp8Weights.Quantize(Random(rows * cols, scale), cols);
        var pair = (_gpu.UploadWeight(DType.F8E4M3, data, cols), _cpu.Upload(DType.F32, HostConversions.FromFloat(Compute.Fp8.Fp8Weights.Dequantize(data, cols), DType.F32)));
        _buffers.Add(pair.Item1);
        _buffers.Add(pair.Item2);
        return pair;
    }

    private (DeviceBuffer Gpu, DeviceBuffer Cpu)[] StackedFp8(int[] rows, int cols, float scale, bool stacked)
    {
        if (!stacked) return rows.Select(r => Fp8Weights(r, cols, scale)).ToArray();
        var all = Fp8Weights(rows.Sum(), cols, scale);
        var views = new (DeviceBuffer Gpu, DeviceBuffer Cpu)[rows.Length];
        long offset = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            views[i] = (_gpu.Slice(all.Gpu, offset, (long)rows[i] * cols), _cpu.Slice(all.Cpu, offset, (long)rows[i] * cols));
            offset += (long)rows[i] * cols;
        }
        return views;
    }

    private void Fp8()
    {
        // x is rounded to bf16 on the tensor cores even with float32 activations.
        double tolerance = Math.Max(_tolerance, 1e-2);
        foreach (var (rows, bias, inF, outF) in new[] { (1, false, 256, 200), (1, true, 2048, 520), (5, true, 256, 200), (16, false, 512, 300), (17, false, 512, 300),
            (32, false, 2048, 2048), (33, true, 256, 130), (64, false, 1024, 1000), (100, false, 512, 700), (1, false, 8192, 300), (8, false, 8192, 2048), (3, false, 48, 40) })
        {
            var x = Pair(Random(rows * inF));
            var w = Fp8Weights(outF, inF, 0.2f);
            var b = bias ? Vector(Random(outF)) : default;
            var y = Pair(Random(rows * outF));
            _gpu.MatMul(x.Gpu, w.Gpu, bias ? b.Gpu : null, y.Gpu, rows, inF, outF);
            _cpu.MatMul(x.Cpu, w.Cpu, bias ? b.Cpu : null, y.Cpu, rows, inF, outF);
            Compare($"FP8 MatMul rows {rows} {outF}x{inF}{(bias ? " +bias" : "")}", y, (long)rows * outF, tolerance: tolerance);
            if (bias) continue;
            var yf = Pair(Random(rows * outF), DType.F32);
            _gpu.MatMul(x.Gpu, w.Gpu, null, yf.Gpu, rows, inF, outF);
            _cpu.MatMul(x.Cpu, w.Cpu, null, yf.Cpu, rows, inF, outF);
            Compare($"FP8 MatMul rows {rows} {outF}x{inF} into F32", yf, (long)rows * outF, tolerance: tolerance);
        }
        foreach (var (rows, stacked) in new[] { (1, false), (1, true), (20, false), (20, true), (70, true) })
        {
            const int inF = 512;
            int[] outs = [384, 128, 128];
            var x = Pair(Random(rows * inF));
            var w = StackedFp8(outs, inF, 0.2f, stacked);
            var targets = outs.Select((o, i) => (W: w[i], B: Vector(Random(o)), Y: Pair(Random(rows * o)), Out: o)).ToArray();
            _gpu.MatMul(x.Gpu, targets.Select(t => new Projection(t.W.Gpu, t.B.Gpu, t.Y.Gpu, t.Out)).ToArray(), rows, inF);
            _cpu.MatMul(x.Cpu, targets.Select(t => new Projection(t.W.Cpu, t.B.Cpu, t.Y.Cpu, t.Out)).ToArray(), rows, inF);
            for (int i = 0; i < targets.Length; i++)
                Compare($"FP8 MatMul of 3 projections rows {rows} +bias{(stacked ? " stacked" : "")}: #{i}", targets[i].Y, (long)rows * targets[i].Out, tolerance: tolerance);
        }
        foreach (var (rows, stacked) in new[] { (1, false), (1, true), (20, false), (40, true) })
        {
            const int inF = 768, outF = 1000;
            var x = Pair(Random(rows * inF));
            var w = StackedFp8([outF, outF], inF, 0.1f, stacked);
            var go = Pair(Random(rows * outF));
            var uo = Pair(Random(rows * outF));
            _gpu.GatedMatMul(x.Gpu, w[0].Gpu, w[1].Gpu, go.Gpu, uo.Gpu, rows, inF, outF);
            _cpu.GatedMatMul(x.Cpu, w[0].Cpu, w[1].Cpu, go.Cpu, uo.Cpu, rows, inF, outF);
            Compare($"FP8 GatedMatMul rows {rows} {outF}x{inF}{(stacked ? " stacked" : "")}", go, (long)rows * outF, tolerance: tolerance);
        }
        foreach (int rows in new[] { 1, 9 })
        {
            const int hidden = 512, inter = 768;
            var x = Pair(Random(rows * hidden, 3f), DType.F32);
            var norm = Vector(Random(hidden));
            var normed = Pair(Random(rows * hidden));
            var wq = Fp8Weights(384, hidden, 0.2f);
            var q = Pair(Random(rows * 384));
            _gpu.NormMatMul(x.Gpu, norm.Gpu, 1e-5f, normed.Gpu, [new Projection(wq.Gpu, null, q.Gpu, 384)], rows, hidden);
            _cpu.NormMatMul(x.Cpu, norm.Cpu, 1e-5f, normed.Cpu, [new Projection(wq.Cpu, null, q.Cpu, 384)], rows, hidden);
            Compare($"FP8 NormMatMul rows {rows}", q, (long)rows * 384, tolerance: tolerance);
            var w = StackedFp8([inter, inter], hidden, 0.1f, stacked: true);
            var go = Pair(Random(rows * inter));
            var uo = Pair(Random(rows * inter));
            _gpu.NormGatedMatMul(x.Gpu, norm.Gpu, 1e-5f, normed.Gpu, w[0].Gpu, w[1].Gpu, go.Gpu, uo.Gpu, rows, hidden, inter);
            _cpu.NormGatedMatMul(x.Cpu, norm.Cpu, 1e-5f, normed.Cpu, w[0].Cpu, w[1].Cpu, go.Cpu, uo.Cpu, rows, hidden, inter);
            Compare($"FP8 NormGatedMatMul rows {rows}", go, (long)rows * inter, tolerance: tolerance);
            foreach (bool bias in new[] { false, true })
            {
                var down = Fp8Weights(hidden, inter, 0.1f);
                var b = bias ? Vector(Random(hidden)) : default;
                var scratch = Pair(Random(rows * hidden));
                _gpu.MatMulAddResidual(go.Gpu, down.Gpu, bias ? b.Gpu : null, scratch.Gpu, x.Gpu, rows, inter, hidden);
                _cpu.MatMulAddResidual(go.Cpu, down.Cpu, bias ? b.Cpu : null, scratch.Cpu, x.Cpu, rows, inter, hidden);
                Compare($"FP8 MatMulAddResidual rows {rows}{(bias ? " +bias" : "")}", x, (long)rows * hidden, tolerance: tolerance);
            }
        }
        const int dim = 320;
        var batch = Layout(out _, 16, 64, [5, 1, 1], [0, 300, 600], out _);
        for (int r = 0; r < batch.Rows; r++) batch.TokenIds[r] = (r * 13) % 50;
        batch.Commit(batch.Rows, batch.Sequences, batch.LogitRowCount);
        var table = Fp8Weights(30, dim, 1f);
        foreach (var outType in new[] { Act, DType.F32 })
        {
            var emb = Pair(Random(batch.Rows * dim), outType);
            _gpu.Embedding(table.Gpu, 10, 30, dim, batch, emb.Gpu);
            _cpu.Embedding(table.Cpu, 10, 30, dim, batch, emb.Cpu);
            Compare($"FP8 Embedding into {outType}", emb, batch.Rows * dim);
        }
        _gpu.Synchronize();
    }
}

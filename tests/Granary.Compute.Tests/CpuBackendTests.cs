using Granary.Compute;
using Granary.Compute.Cpu;

namespace Granary.Compute.Tests;

/// <summary>Each CPU kernel against a plain double-precision loop on random data.</summary>
public class CpuBackendTests : IDisposable
{
    private readonly IBackend _backend = new CpuBackend(new CpuBackendOptions { Threads = 2 });
    private readonly Random _random = new(42);

    public void Dispose() => _backend.Dispose();

    private float[] RandomFloats(int n) => Enumerable.Range(0, n).Select(_ => (float)(_random.NextDouble() * 2 - 1)).ToArray();

    private DeviceBuffer Upload(float[] values) => _backend.Upload(DType.F32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));

    private float[] Read(DeviceBuffer buffer, int n)
    {
        var result = new float[n];
        _backend.CopyToHost(buffer, result);
        return result;
    }

    [Fact]
    public void SliceIsAViewThatFreesNothing()
    {
        float[] values = RandomFloats(10);
        using var buffer = Upload(values);
        var view = _backend.Slice(buffer, 4, 3);
        Assert.Equal(3, view.Length);
        Assert.Equal(values[4..7], Read(view, 3));
        _backend.CopyFromHost([7f], view, 1);
        view.Dispose();
        Assert.Equal(7f, Read(buffer, 10)[5]);
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.Slice(buffer, 8, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _backend.Slice(buffer, -1, 2));
    }

    [Theory]
    [InlineData(1, 64, 64, DType.F32)]
    [InlineData(3, 37, 129, DType.F32)]
    [InlineData(16, 288, 768, DType.F32)]
    [InlineData(5, 100, 67, DType.BF16)]
    [InlineData(9, 72, 130, DType.F16)]
    [InlineData(17, 288, 70, DType.F32)]
    [InlineData(64, 37, 129, DType.BF16)]
    [InlineData(130, 300, 33, DType.F16)]
    [InlineData(203, 288, 768, DType.F32)]
    public void MatMulMatchesReference(int rows, int inFeatures, int outFeatures, DType weightType)
    {
        float[] x = RandomFloats(rows * inFeatures);
        float[] w = RandomFloats(outFeatures * inFeatures);
        float[] bias = RandomFloats(outFeatures);
        byte[] wBytes = HostConversions.FromFloat(w, weightType);
        float[] wRounded = HostConversions.ToFloat(weightType, wBytes);
        using var xb = Upload(x);
        using var wb = _backend.Upload(weightType, wBytes);
        using var bb = Upload(bias);
        using var yb = _backend.Allocate(DType.F32, rows * outFeatures);
        _backend.MatMul(xb, wb, bb, yb, rows, inFeatures, outFeatures);
        float[] y = Read(yb, rows * outFeatures);
        for (int r = 0; r < rows; r++)
        for (int o = 0; o < outFeatures; o++)
        {
            double expected = bias[o];
            for (int k = 0; k < inFeatures; k++) expected += (double)x[r * inFeatures + k] * wRounded[o * inFeatures + k];
            Assert.True(Math.Abs(expected - y[r * outFeatures + o]) < 1e-4, $"y[{r},{o}] = {y[r * outFeatures + o]}, expected {expected}");
        }
    }

    [Fact]
    public void RmsNormMatchesReference()
    {
        int rows = 3, dim = 50;
        float[] x = RandomFloats(rows * dim), weight = RandomFloats(dim);
        using var xb = Upload(x);
        using var wb = Upload(weight);
        using var ob = _backend.Allocate(DType.F32, rows * dim);
        _backend.RmsNorm(xb, wb, ob, rows, dim, 1e-5f);
        float[] output = Read(ob, rows * dim);
        for (int r = 0; r < rows; r++)
        {
            double squares = 0;
            for (int i = 0; i < dim; i++) squares += (double)x[r * dim + i] * x[r * dim + i];
            double inverse = 1 / Math.Sqrt(squares / dim + 1e-5);
            for (int i = 0; i < dim; i++) Assert.Equal(x[r * dim + i] * inverse * weight[i], output[r * dim + i], 4);
        }
    }

    [Fact]
    public void NormMatMulAndResidualProjectionComposeTheirOps()
    {
        int rows = 2, dim = 24, outF = 24;
        float[] x = RandomFloats(rows * dim), norm = RandomFloats(dim), w = RandomFloats(outF * dim), residual = RandomFloats(rows * outF);
        using var xb = Upload(x);
        using var nb = Upload(norm);
        using var wb = Upload(w);
        using var rb = Upload(residual);
        using var normed = _backend.Allocate(DType.F32, rows * dim);
        using var y = _backend.Allocate(DType.F32, rows * outF);
        using var scratch = _backend.Allocate(DType.F32, rows * outF);
        _backend.NormMatMul(xb, nb, 1e-5f, normed, [new Projection(wb, null, y, outF)], rows, dim);
        _backend.MatMulAddResidual(y, wb, null, scratch, rb, rows, dim, outF);
        float[] got = Read(rb, rows * outF);
        for (int r = 0; r < rows; r++)
        {
            double squares = 0;
            for (int i = 0; i < dim; i++) squares += (double)x[r * dim + i] * x[r * dim + i];
            double inverse = 1 / Math.Sqrt(squares / dim + 1e-5);
            var first = new double[outF];
            for (int o = 0; o < outF; o++)
                for (int i = 0; i < dim; i++) first[o] += x[r * dim + i] * inverse * norm[i] * w[o * dim + i];
            for (int o = 0; o < outF; o++)
            {
                double expected = residual[r * outF + o];
                for (int i = 0; i < dim; i++) expected += first[i] * w[o * dim + i];
                Assert.Equal(expected, got[r * outF + o], 3);
            }
        }
    }

    [Fact]
    public void SiluMulMatchesReference()
    {
        float[] gate = RandomFloats(37), up = RandomFloats(37);
        using var g = Upload(gate);
        using var u = Upload(up);
        using var o = _backend.Allocate(DType.F32, 37);
        _backend.SiluMul(g, u, o, 37);
        float[] output = Read(o, 37);
        for (int i = 0; i < 37; i++) Assert.Equal(gate[i] / (1 + Math.Exp(-gate[i])) * up[i], output[i], 5);
    }

    [Fact]
    public void RopeRotatesHalvesByPosition()
    {
        int heads = 2, headDim = 8, rows = 2;
        float[] x = RandomFloats(rows * heads * headDim);
        var table = new float[10 * headDim];
        for (int p = 0; p < 10; p++)
        for (int i = 0; i < headDim / 2; i++)
        {
            table[p * headDim + i] = MathF.Cos(p * (i + 1) * 0.1f);
            table[p * headDim + headDim / 2 + i] = MathF.Sin(p * (i + 1) * 0.1f);
        }
        var batch = new BatchLayout(rows, 1, 1);
        batch.Positions[0] = 3;
        batch.Positions[1] = 7;
        batch.Commit(rows, 1, 0);
        using var xb = Upload(x);
        using var tb = Upload(table);
        _backend.Rope(xb, rows, heads, headDim, batch, tb);
        float[] y = Read(xb, x.Length);
        for (int r = 0; r < rows; r++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < headDim / 2; i++)
        {
            int at = (r * heads + h) * headDim;
            double angle = batch.Positions[r] * (i + 1) * 0.1;
            double a = x[at + i], b = x[at + i + headDim / 2];
            Assert.Equal(a * Math.Cos(angle) - b * Math.Sin(angle), y[at + i], 5);
            Assert.Equal(b * Math.Cos(angle) + a * Math.Sin(angle), y[at + i + headDim / 2], 5);
        }
    }

    [Fact]
    public void PagedAttentionMatchesDenseCausalAttention()
    {
        int heads = 4, kvHeads = 2, headDim = 8, blockSize = 4, length = 11, kvDim = kvHeads * headDim;
        float[] q = RandomFloats(length * heads * headDim), k = RandomFloats(length * kvDim), v = RandomFloats(length * kvDim);
        // Blocks deliberately out of order: the table, not the layout, decides where positions live.
        int[] blocks = [5, 2, 7];
        var batch = new BatchLayout(length, 1, 3);
        for (int t = 0; t < length; t++)
        {
            batch.Positions[t] = t;
            batch.SlotMapping[t] = blocks[t / blockSize] * blockSize + t % blockSize;
        }
        blocks.CopyTo(batch.BlockTables, 0);
        batch.Commit(length, 1, 0);
        using var kc = _backend.Allocate(DType.F32, 8 * blockSize * kvDim);
        using var vc = _backend.Allocate(DType.F32, 8 * blockSize * kvDim);
        using var qb = Upload(q);
        using var kb = Upload(k);
        using var vb = Upload(v);
        using var ob = _backend.Allocate(DType.F32, q.Length);
        _backend.WriteKv(kb, vb, kc, vc, kvDim, batch);
        _backend.Attention(qb, kc, vc, ob, heads, kvHeads, headDim, blockSize, 0.5f, batch);
        float[] output = Read(ob, q.Length);
        for (int t = 0; t < length; t++)
        for (int h = 0; h < heads; h++)
            AssertDenseAttention(q, output, t, h, k, v, t, heads, kvHeads, headDim, 0.5, $"position {t}");
    }

    /// <summary>
    /// A prefill chunk of sequence 0 at positions 5..24 after cached positions 0..4 (blocks of 8 rows and a rest),
    /// beside a decode row of sequence 1: the blocked and the per-row paths against a dense loop.
    /// </summary>
    [Theory]
    [InlineData(12, 6, 2)]
    [InlineData(48, 6, 6)]
    [InlineData(8, 4, 1)]
    public void ChunkedAttentionMatchesDenseCausalAttention(int headDim, int heads, int kvHeads)
    {
        int blockSize = 4, kvDim = kvHeads * headDim, cached = 5, chunk = 20, decodePosition = 9;
        int length0 = cached + chunk, length1 = decodePosition + 1;
        float[] k0 = RandomFloats(length0 * kvDim), v0 = RandomFloats(length0 * kvDim);
        float[] k1 = RandomFloats(length1 * kvDim), v1 = RandomFloats(length1 * kvDim);
        int[] table0 = [3, 0, 9, 4, 7, 1, 12], table1 = [2, 5, 8];
        int rows = chunk + 1;
        float[] q = RandomFloats(rows * heads * headDim);

        var all = new BatchLayout(length0 + length1, 2, 7);
        for (int t = 0; t < length0 + length1; t++)
        {
            int[] table = t < length0 ? table0 : table1;
            int p = t < length0 ? t : t - length0;
            all.SlotMapping[t] = table[p / blockSize] * blockSize + p % blockSize;
        }
        all.Commit(length0 + length1, 2, 0);
        using var kc = _backend.Allocate(DType.F32, 16 * blockSize * kvDim);
        using var vc = _backend.Allocate(DType.F32, 16 * blockSize * kvDim);
        using (var kb = Upload([.. k0, .. k1]))
        using (var vb = Upload([.. v0, .. v1])) _backend.WriteKv(kb, vb, kc, vc, kvDim, all);

        var batch = new BatchLayout(rows, 2, 7);
        for (int r = 0; r < chunk; r++) batch.Positions[r] = cached + r;
        batch.Positions[chunk] = decodePosition;
        batch.RowSequence[chunk] = 1;
        table0.CopyTo(batch.BlockTables, 0);
        table1.CopyTo(batch.BlockTables, 7);
        batch.Commit(rows, 2, 0);
        using var qb = Upload(q);
        using var ob = _backend.Allocate(DType.F32, q.Length);
        _backend.Attention(qb, kc, vc, ob, heads, kvHeads, headDim, blockSize, 0.3f, batch);
        float[] output = Read(ob, q.Length);
        for (int r = 0; r < rows; r++)
        for (int h = 0; h < heads; h++)
        {
            var (k, v) = r < chunk ? (k0, v0) : (k1, v1);
            AssertDenseAttention(q, output, r, h, k, v, batch.Positions[r], heads, kvHeads, headDim, 0.3, $"row {r}");
        }
    }

    /// <summary>
    /// The dense reference for one row and head: softmax(scale * q.k) over the keys of positions 0..position, times
    /// the values (in double), against the backend's output within 1e-5.
    /// </summary>
    private static void AssertDenseAttention(float[] q, float[] output, int row, int h, float[] k, float[] v, int position, int heads, int kvHeads, int headDim,
        double scale, string where)
    {
        int kvDim = kvHeads * headDim, kvh = h / (heads / kvHeads);
        var scores = new double[position + 1];
        for (int s = 0; s <= position; s++)
        {
            double dot = 0;
            for (int d = 0; d < headDim; d++) dot += q[(row * heads + h) * headDim + d] * k[s * kvDim + kvh * headDim + d];
            scores[s] = dot * scale;
        }
        double max = scores.Max(), z = scores.Sum(s => Math.Exp(s - max));
        for (int d = 0; d < headDim; d++)
        {
            double expected = 0;
            for (int s = 0; s <= position; s++) expected += Math.Exp(scores[s] - max) / z * v[s * kvDim + kvh * headDim + d];
            float actual = output[(row * heads + h) * headDim + d];
            Assert.True(Math.Abs(expected - actual) < 1e-5, $"{where} head {h} dim {d}: {actual}, expected {expected}");
        }
    }

    [Fact]
    public void EmbeddingZeroesRowsOutsideTheShard()
    {
        float[] table = RandomFloats(4 * 3);
        var batch = new BatchLayout(3, 1, 1);
        batch.TokenIds[0] = 10; batch.TokenIds[1] = 12; batch.TokenIds[2] = 3;
        batch.Commit(3, 1, 0);
        using var tb = Upload(table);
        using var ob = _backend.Allocate(DType.F32, 9);
        _backend.Embedding(tb, 10, 4, 3, batch, ob);
        float[] output = Read(ob, 9);
        Assert.Equal(table[..3], output[..3]);
        Assert.Equal(table[6..9], output[3..6]);
        Assert.Equal(new float[3], output[6..9]);
    }

    [Fact]
    public void BufferOfWrongTypeIsRejectedClearly()
    {
        using var bf16 = _backend.Allocate(DType.BF16, 4);
        using var f32 = _backend.Allocate(DType.F32, 4);
        var error = Assert.Throws<ArgumentException>(() => _backend.Add(bf16, f32, 4));
        Assert.Contains("float32", error.Message);
    }
}

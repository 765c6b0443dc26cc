using Granary.Compute;
using Granary.Compute.Cpu;

namespace Granary.Compute.Tests;

/// <summary>Q8_0 weights: the format against llama.cpp's rules and error bounds (test-quantize-fns), the int8 matmul against float references.</summary>
public class Q8_0Tests : IDisposable
{
    private readonly IBackend _backend = new CpuBackend(new CpuBackendOptions { Threads = 2 });
    private readonly Random _random = new(7);

    public void Dispose() => _backend.Dispose();

    /// <summary>llama.cpp's test-quantize-fns data: 0.1 + 2 cos(i + offset).</summary>
    private static float[] LlamaTestData(int n, float offset) => Enumerable.Range(0, n).Select(i => 0.1f + 2 * MathF.Cos(i + offset)).ToArray();

    private float[] RandomFloats(int n) => Enumerable.Range(0, n).Select(_ => (float)(_random.NextDouble() * 2 - 1)).ToArray();

    [Fact]
    public void QuantizationErrorIsWithinLlamaCppsBound()
    {
        float[] data = LlamaTestData(32 * 128, 0);
        float[] back = new float[data.Length];
        Q8_0Blocks.Dequantize(Q8_0Blocks.Quantize(data), back);
        // test-quantize-fns' array_rmse is sqrt(sum of squares) / n, bounded by MAX_QUANTIZATION_TOTAL_ERROR.
        double error = Math.Sqrt(data.Zip(back, (a, b) => (double)(a - b) * (a - b)).Sum()) / data.Length;
        Assert.True(error < 0.002, $"error {error}");
        // And each element within half a step of its block (the step d = max / 127, itself rounded to fp16).
        for (int b = 0; b < data.Length / 32; b++)
        {
            double step = data.Skip(b * 32).Take(32).Max(MathF.Abs) / 127;
            for (int i = b * 32; i < b * 32 + 32; i++) Assert.True(Math.Abs(data[i] - back[i]) <= step * 0.501 + Math.Abs(data[i]) * 1e-3, $"element {i}");
        }
    }

    [Fact]
    public void BlocksAreScaleThenValuesRoundedHalfAwayFromZero()
    {
        float[] block = new float[32];
        block[0] = 127;
        block[1] = -2.5f;
        block[2] = 0.5f;
        byte[] bytes = Q8_0Blocks.Quantize(block);
        Assert.Equal(34, bytes.Length);
        Assert.Equal((Half)1, BitConverter.ToHalf(bytes, 0));
        Assert.Equal([127, unchecked((byte)(sbyte)-3), 1, 0], bytes[2..6]);
    }

    [Theory]
    [InlineData(1, 288, 70)]
    [InlineData(1, 96, 131)]
    [InlineData(3, 64, 5)]
    [InlineData(17, 768, 129)]
    [InlineData(64, 288, 288)]
    [InlineData(7, 96, 33)]
    [InlineData(16, 288, 70)]
    [InlineData(31, 96, 33)]
    [InlineData(128, 288, 768)]
    public void MatMulMatchesTheQuantizedArithmeticAndTheFloatProduct(int rows, int inFeatures, int outFeatures)
    {
        float[] x = RandomFloats(rows * inFeatures), w = RandomFloats(outFeatures * inFeatures), bias = RandomFloats(outFeatures);
        byte[] wq = Q8_0Blocks.Quantize(w);
        float[] wBack = new float[w.Length];
        Q8_0Blocks.Dequantize(wq, wBack);
        using var xb = Upload(x);
        using var wb = _backend.UploadWeight(DType.Q8_0, wq, inFeatures);
        using var bb = Upload(bias);
        using var yb = _backend.Allocate(DType.F32, rows * outFeatures);
        Assert.Equal(outFeatures * inFeatures, wb.Length);
        _backend.MatMul(xb, wb, bb, yb, rows, inFeatures, outFeatures);
        float[] y = new float[rows * outFeatures];
        _backend.CopyToHost(yb, y);
        for (int r = 0; r < rows; r++)
        {
            // The activations are quantized too (int8 dots), at every step size.
            float[] xBack = QuantizeActivations(x.AsSpan(r * inFeatures, inFeatures));
            for (int o = 0; o < outFeatures; o++)
            {
                double quantized = bias[o], exact = bias[o];
                for (int k = 0; k < inFeatures; k++)
                {
                    quantized += (double)xBack[k] * wBack[o * inFeatures + k];
                    exact += (double)x[r * inFeatures + k] * w[o * inFeatures + k];
                }
                float got = y[r * outFeatures + o];
                Assert.True(Math.Abs(got - quantized) < 1e-4 * (1 + Math.Abs(quantized)), $"y[{r},{o}] = {got}, the quantized arithmetic gives {quantized}");
                // llama.cpp's MAX_DOT_PRODUCT_ERROR for Q8_0 x Q8_0, per element of the dot.
                Assert.True(Math.Abs(got - exact) / inFeatures < 0.02, $"y[{r},{o}] = {got}, the float product is {exact}");
            }
        }
    }

    [Fact]
    public unsafe void InlineScaleConversionEqualsHalfForEveryFiniteValue()
    {
        for (int bits = 0; bits < 0x10000; bits++)
        {
            ushort h = (ushort)bits;
            if (Half.IsNaN(BitConverter.UInt16BitsToHalf(h)) || Half.IsInfinity(BitConverter.UInt16BitsToHalf(h))) continue;
            Assert.Equal((float)BitConverter.UInt16BitsToHalf(h), WeightRows.Scale((byte*)&h));
        }
    }

    [Fact]
    public void ViewsTakeWholeRowsAndBadSizesAreRefused()
    {
        // 20 rows of 32: two whole tiles of 8 rows and a partial one.
        float[] w = RandomFloats(20 * 32);
        using var buffer = _backend.UploadWeight(DType.Q8_0, Q8_0Blocks.Quantize(w), 32);
        using var view = _backend.Slice(buffer, 8 * 32, 12 * 32);
        Assert.Equal(12 * 32, view.Length);
        Assert.Contains("whole rows of 32", Assert.Throws<ArgumentException>(() => _backend.Slice(buffer, 32, 48)).Message);
        Assert.Throws<ArgumentException>(() => _backend.Slice(buffer, 16, 32));
        Assert.Throws<ArgumentException>(() => _backend.UploadWeight(DType.Q8_0, new byte[35], 32));
        Assert.Throws<ArgumentException>(() => _backend.UploadWeight(DType.Q8_0, new byte[34], 64));
        Assert.Contains("UploadWeight", Assert.Throws<ArgumentException>(() => _backend.Upload(DType.Q8_0, new byte[34])).Message);
        Assert.Throws<ArgumentException>(() => _backend.Allocate(DType.Q8_0, 256));
        using var x = Upload(RandomFloats(64));
        using var y = _backend.Allocate(DType.F32, 10);
        Assert.Contains("rows of 32 values", Assert.Throws<ArgumentException>(() => _backend.MatMul(x, buffer, null, y, 1, 64, 10)).Message);
        Assert.Throws<InvalidOperationException>(() => DType.Q8_0.Size());
        Assert.True(_backend.SupportsWeights(DType.Q8_0));
    }

    [Theory]
    [InlineData(1, 160)]
    [InlineData(3, 64)]
    [InlineData(9, 104)]
    [InlineData(1, 20)]
    [InlineData(5, 13)]
    public void AViewOfStackedRowsMultipliesAsTheRowsAlone(int rows, int first)
    {
        // As q, k and v stacked in one upload: the second matrix's view against the same rows uploaded alone (a view
        // that does not begin a tile of 8 rows is a copy of its own).
        const int inFeatures = 96;
        int second = 40;
        float[] x = RandomFloats(rows * inFeatures), w = RandomFloats((first + second) * inFeatures);
        byte[] wq = Q8_0Blocks.Quantize(w);
        using var stacked = _backend.UploadWeight(DType.Q8_0, wq, inFeatures);
        using var view = _backend.Slice(stacked, (long)first * inFeatures, (long)second * inFeatures);
        using var alone = _backend.UploadWeight(DType.Q8_0, wq.AsSpan(first * inFeatures / 32 * 34), inFeatures);
        using var xb = Upload(x);
        using var y1 = _backend.Allocate(DType.F32, rows * second);
        using var y2 = _backend.Allocate(DType.F32, rows * second);
        _backend.MatMul(xb, view, null, y1, rows, inFeatures, second);
        _backend.MatMul(xb, alone, null, y2, rows, inFeatures, second);
        float[] a = new float[rows * second], b = new float[rows * second];
        _backend.CopyToHost(y1, a);
        _backend.CopyToHost(y2, b);
        Assert.Equal(b, a);
    }

    [Theory]
    [InlineData(1, 32)]
    [InlineData(8, 64)]
    [InlineData(21, 96)]
    public unsafe void TilesWidenToTheBlocksValues(int rows, int rowLength)
    {
        byte[] q = Q8_0Blocks.Quantize(RandomFloats(rows * rowLength));
        float[] expected = new float[rows * rowLength], got = new float[rows * rowLength];
        Q8_0Blocks.Dequantize(q, expected);
        byte* tiles = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)Q8Tiles.ByteCount(rows, rowLength));
        try
        {
            Q8Tiles.Pack(q, rowLength, tiles);
            fixed (float* g = got)
            {
                Q8Tiles.ToFloat(tiles, rowLength, 0, 1, g);
                if (rows > 1) Q8Tiles.ToFloat(tiles, rowLength, 1, rows - 1, g + rowLength);
            }
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(tiles);
        }
        Assert.Equal(expected, got);
    }

    [Fact]
    public void EmbeddingOfAQ8_0TableDequantizesTheRow()
    {
        float[] table = RandomFloats(3 * 64);
        byte[] q = Q8_0Blocks.Quantize(table);
        float[] expected = new float[table.Length];
        Q8_0Blocks.Dequantize(q, expected);
        var batch = new BatchLayout(1, 1, 1);
        batch.TokenIds[0] = 2;
        batch.Commit(1, 1, 0);
        using var tb = _backend.UploadWeight(DType.Q8_0, q, 64);
        using var ob = _backend.Allocate(DType.F32, 64);
        _backend.Embedding(tb, 0, 3, 64, batch, ob);
        float[] output = new float[64];
        _backend.CopyToHost(ob, output);
        Assert.Equal(expected[128..], output);
    }

    private DeviceBuffer Upload(float[] values) => _backend.Upload(DType.F32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));

    /// <summary>Activations as the kernel quantizes them (llama.cpp's AVX2 rule: 127 / max, half to even, fp16 scale), dequantized.</summary>
    private static float[] QuantizeActivations(ReadOnlySpan<float> x)
    {
        var result = new float[x.Length];
        for (int b = 0; b < x.Length / 32; b++)
        {
            var block = x.Slice(b * 32, 32);
            float max = 0;
            foreach (float v in block) max = MathF.Max(max, MathF.Abs(v));
            float d = (float)(Half)(max / 127), inverse = max != 0 ? 127 / max : 0;
            for (int i = 0; i < 32; i++) result[b * 32 + i] = d * MathF.Round(block[i] * inverse, MidpointRounding.ToEven);
        }
        return result;
    }
}

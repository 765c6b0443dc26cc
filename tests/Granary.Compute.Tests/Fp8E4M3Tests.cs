using Granary.Compute.Fp8;

namespace Granary.Compute.Tests;

/// <summary>
/// E4M3 against the OCP 8-bit floating point specification (OFP8, rev. 1.0, its E4M3 table and value formula):
/// all 256 codes decode to (-1)^S * 2^(E-7) * (1 + M/8), or 2^-6 * M/8 when E = 0, S.1111.111 being NaN; encoding
/// rounds to nearest, ties to even, and saturates.
/// </summary>
public sealed class Fp8E4M3Tests
{
    [Fact]
    public void Every256CodeDecodesAsTheSpecSays()
    {
        for (int code = 0; code < 256; code++)
        {
            int s = code >> 7, e = (code >> 3) & 0xF, m = code & 7;
            float value = Fp8E4M3.ToSingle((byte)code);
            if (e == 15 && m == 7)
            {
                Assert.True(float.IsNaN(value), $"code 0x{code:X2} must be NaN");
                continue;
            }
            double expected = (s == 1 ? -1 : 1) * (e == 0 ? Math.Pow(2, -6) * (m / 8.0) : Math.Pow(2, e - 7) * (1 + m / 8.0));
            Assert.Equal(expected, value);
        }
    }

    [Fact]
    public void TheSpecsNamedValuesAreWhereItPutsThem()
    {
        Assert.Equal(448f, Fp8E4M3.ToSingle(0b0_1111_110));     // max normal
        Assert.Equal(MathF.Pow(2, -6), Fp8E4M3.ToSingle(0b0_0001_000)); // min normal
        Assert.Equal(0.875f * MathF.Pow(2, -6), Fp8E4M3.ToSingle(0b0_0000_111)); // max subnormal
        Assert.Equal(MathF.Pow(2, -9), Fp8E4M3.ToSingle(0b0_0000_001)); // min subnormal
        Assert.Equal(0f, Fp8E4M3.ToSingle(0));
        Assert.True(float.IsNegative(Fp8E4M3.ToSingle(0x80)) && Fp8E4M3.ToSingle(0x80) == 0f);
        Assert.Equal(-448f, Fp8E4M3.ToSingle(0b1_1111_110));
        Assert.True(float.IsNaN(Fp8E4M3.ToSingle(0x7F)) && float.IsNaN(Fp8E4M3.ToSingle(0xFF)));
    }

    [Fact]
    public void EveryFiniteCodeEncodesBackToItself()
    {
        for (int code = 0; code < 256; code++)
        {
            if ((code & 0x7F) == 0x7F) continue;
            Assert.Equal(code, Fp8E4M3.FromSingle(Fp8E4M3.ToSingle((byte)code)));
        }
    }

    [Fact]
    public void EncodingRoundsToNearestTiesToEvenAndSaturates()
    {
        // Between every two neighbouring positive values: a hair below the midpoint goes down, above goes up,
        // the midpoint itself to the code with an even mantissa.
        for (int code = 0; code < 0x7E; code++)
        {
            float low = Fp8E4M3.ToSingle((byte)code), high = Fp8E4M3.ToSingle((byte)(code + 1));
            float mid = (low + high) / 2;
            Assert.Equal(code, Fp8E4M3.FromSingle(MathF.BitDecrement(mid)));
            Assert.Equal(code + 1, Fp8E4M3.FromSingle(MathF.BitIncrement(mid)));
            Assert.Equal((code & 1) == 0 ? code : code + 1, Fp8E4M3.FromSingle(mid));
            Assert.Equal(0x80 | Fp8E4M3.FromSingle(mid), Fp8E4M3.FromSingle(-mid));
        }
        Assert.Equal(0x7E, Fp8E4M3.FromSingle(463.9f));
        Assert.Equal(0x7E, Fp8E4M3.FromSingle(464f));
        Assert.Equal(0x7E, Fp8E4M3.FromSingle(1e9f));
        Assert.Equal(0x7E, Fp8E4M3.FromSingle(float.PositiveInfinity));
        Assert.Equal(0xFE, Fp8E4M3.FromSingle(float.NegativeInfinity));
        Assert.Equal(0x7F, Fp8E4M3.FromSingle(float.NaN));
        Assert.Equal(0, Fp8E4M3.FromSingle(MathF.Pow(2, -11))); // below half the smallest subnormal
    }

    [Fact]
    public void PerChannelQuantizationKeepsEachWeightWithinHalfAStep()
    {
        const int rows = 16, cols = 256;
        var random = new Random(7);
        var weights = new float[rows * cols];
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-3, 2)));
        weights.AsSpan(3 * cols, cols).Clear(); // a row of zeros
        var codes = new byte[weights.Length];
        var scales = new float[rows];
        Fp8Quantization.QuantizeRows(weights, rows, cols, codes, scales);
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            Fp8Quantization.DequantizeRow(codes.AsSpan(r * cols, cols), scales[r], row);
            for (int c = 0; c < cols; c++)
            {
                float w = weights[r * cols + c];
                // Half a mantissa step: 2^-4 relative for normals, half the smallest subnormal (2^-10) times the scale below them.
                double bound = Math.Max(Math.Abs(w) / 16, scales[r] * Math.Pow(2, -10)) * 1.0001;
                Assert.True(Math.Abs(row[c] - w) <= bound, $"row {r} col {c}: {w} came back as {row[c]} (bound {bound})");
            }
        }
        Assert.Equal(1f, scales[3]);
        Assert.Throws<ArgumentException>(() => Fp8Quantization.QuantizeRows([float.NaN], 1, 1, new byte[1], new float[1]));
        Assert.Throws<ArgumentException>(() => Fp8Quantization.QuantizeRows(new float[4], 2, 3, new byte[4], new float[2]));
    }
}

namespace Granary.Compute.Fp8;

/// <summary>
/// OCP 8-bit floating point E4M3 (the "fn" variant Hopper and Hugging Face's FP8 checkpoints use): 1 sign bit, 4
/// exponent bits with bias 7, 3 mantissa bits; no infinities, S.1111.111 is NaN, the largest finite is 448
/// (S.1111.110), the smallest normal 2^-6, the smallest subnormal 2^-9. Encoding rounds to nearest, ties to even,
/// and saturates to ±448 (the spec's saturating conversion, what quantizers use); every NaN encodes as 0x7F.
/// </summary>
public static class Fp8E4M3
{
    /// <summary>The largest finite magnitude.</summary>
    public const float MaxValue = 448f;

    private const int Bias = 7;
    private const float MinNormal = 1f / 64; // 2^-6

    private static readonly float[] Decoded = BuildTable();

    /// <summary>The value of a code (exact: every E4M3 value is a float).</summary>
    public static float ToSingle(byte code) => Decoded[code];

    /// <summary>The nearest code to <paramref name="value"/> (ties to even), saturating to ±448.</summary>
    public static byte FromSingle(float value)
    {
        byte sign = (byte)((BitConverter.SingleToUInt32Bits(value) >> 24) & 0x80);
        float a = MathF.Abs(value);
        if (float.IsNaN(a)) return 0x7F; // a NaN's sign means nothing: one code for all
        // Halfway between 448 and the next step (480, not a value) is 464: at and above it saturate, below it round.
        if (a >= 464f) return (byte)(sign | 0x7E);
        int e = a < MinNormal ? 1 - Bias : (int)((BitConverter.SingleToUInt32Bits(a) >> 23) & 0xFF) - 127;
        // In units of the mantissa step at this exponent: [8, 16) for normals, [0, 8) for subnormals.
        float q = MathF.Round(a / MathF.ScaleB(1f, e - 3), MidpointRounding.ToEven);
        if (q >= 16)
        {
            e++;
            q = 8;
        }
        int units = (int)q;
        if (units < 8) return (byte)(sign | units); // subnormal (or zero), exponent field 0
        return (byte)(sign | (e + Bias) << 3 | (units - 8));
    }

    private static float[] BuildTable()
    {
        var table = new float[256];
        for (int code = 0; code < 256; code++)
        {
            int exponent = code >> 3 & 0xF, mantissa = code & 7;
            float magnitude = exponent == 15 && mantissa == 7 ? float.NaN
                : exponent == 0 ? MathF.ScaleB(mantissa, 1 - Bias - 3)
                : MathF.ScaleB(8 + mantissa, exponent - Bias - 3);
            table[code] = (code & 0x80) != 0 ? -magnitude : magnitude;
        }
        return table;
    }
}

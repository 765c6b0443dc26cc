using Granary.Models.Checkpoints;

namespace Granary.Models.Llama;

/// <summary>
/// Cosines and sines of the rotary embedding per position, as Hugging Face computes them: inverse
/// frequencies in float32 (scaled per the RoPE type), angles in float32, laid out per position as
/// headDim/2 cosines then headDim/2 sines (the rotate-half layout).
/// </summary>
public static class RopeTable
{
    public static float[] InverseFrequencies(RopeConfig rope, int headDim)
    {
        int half = headDim / 2;
        var inverse = new float[half];
        for (int i = 0; i < half; i++) inverse[i] = (float)(1.0 / Math.Pow(rope.Theta, (float)(2 * i) / headDim));
        switch (rope.Type)
        {
            case RopeType.Default:
                break;
            case RopeType.Linear:
                for (int i = 0; i < half; i++) inverse[i] /= (float)rope.Factor;
                break;
            case RopeType.Llama3:
                ScaleLlama3(inverse, rope);
                break;
            default:
                throw new NotSupportedException($"RoPE type {rope.Type} is not supported");
        }
        return inverse;
    }

    /// <summary>Llama 3.1's frequency-dependent scaling: long wavelengths divided by the factor, short ones kept, a smooth blend between.</summary>
    private static void ScaleLlama3(float[] inverse, RopeConfig rope)
    {
        double oldContext = rope.OriginalMaxPositionEmbeddings;
        double lowWavelength = oldContext / rope.LowFreqFactor;
        double highWavelength = oldContext / rope.HighFreqFactor;
        for (int i = 0; i < inverse.Length; i++)
        {
            double frequency = inverse[i];
            double wavelength = 2 * Math.PI / frequency;
            if (wavelength < highWavelength) continue;
            if (wavelength > lowWavelength)
            {
                inverse[i] = (float)(frequency / rope.Factor);
                continue;
            }
            double smooth = (oldContext / wavelength - rope.LowFreqFactor) / (rope.HighFreqFactor - rope.LowFreqFactor);
            inverse[i] = (float)((1 - smooth) * frequency / rope.Factor + smooth * frequency);
        }
    }

    /// <summary>[positions, headDim] table: per position headDim/2 cosines then headDim/2 sines.</summary>
    public static float[] Build(RopeConfig rope, int headDim, int positions)
    {
        var inverse = InverseFrequencies(rope, headDim);
        int half = headDim / 2;
        var table = new float[(long)positions * headDim];
        for (int p = 0; p < positions; p++)
        {
            var row = table.AsSpan(p * headDim, headDim);
            for (int i = 0; i < half; i++)
            {
                float angle = p * inverse[i];
                row[i] = MathF.Cos(angle);
                row[half + i] = MathF.Sin(angle);
            }
        }
        return table;
    }
}

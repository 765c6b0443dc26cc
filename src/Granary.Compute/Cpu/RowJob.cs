using System.Numerics.Tensors;

namespace Granary.Compute.Cpu;

/// <summary>Row-wise operations (norms, RoPE), one chunk per group of rows.</summary>
internal sealed unsafe class RowJob : CpuJob
{
    public const int RowsPerChunk = 4;

    public enum Kind { RmsNorm, Rope }

    public Kind Operation;
    public float* X;
    public float* Weight;
    public float* Output;
    public float* CosSin;
    public int Rows;
    public int Dim;
    public float Eps;
    public int Heads;
    public int HeadDim;
    public BatchLayout Batch = null!;

    public static int Chunks(int rows) => (rows + RowsPerChunk - 1) / RowsPerChunk;

    public override void Execute(int chunk)
    {
        int end = Math.Min(Rows, (chunk + 1) * RowsPerChunk);
        for (int r = chunk * RowsPerChunk; r < end; r++)
        {
            switch (Operation)
            {
                case Kind.RmsNorm: Normalize(X + (long)r * Dim, r); break;
                case Kind.Rope: Rotate(r); break;
            }
        }
    }

    private void Normalize(float* source, int row)
    {
        var x = new ReadOnlySpan<float>(source, Dim);
        // Sum of squares in double: the reference computes the mean in float32 with pairwise sums, and
        // double keeps us within its rounding for any width.
        double sumSquares = 0;
        for (int i = 0; i < x.Length; i++) sumSquares += (double)x[i] * x[i];
        float inverse = (float)(1.0 / Math.Sqrt(sumSquares / Dim + Eps));
        var output = new Span<float>(Output + (long)row * Dim, Dim);
        TensorPrimitives.Multiply(x, inverse, output);
        TensorPrimitives.Multiply(output, new ReadOnlySpan<float>(Weight, Dim), output);
    }

    private void Rotate(int row)
    {
        int half = HeadDim / 2;
        float* cos = CosSin + (long)Batch.Positions[row] * HeadDim;
        float* sin = cos + half;
        float* x = X + (long)row * Heads * HeadDim;
        for (int h = 0; h < Heads; h++, x += HeadDim)
        {
            for (int i = 0; i < half; i++)
            {
                float a = x[i], b = x[i + half];
                x[i] = a * cos[i] - b * sin[i];
                x[i + half] = b * cos[i] + a * sin[i];
            }
        }
    }
}

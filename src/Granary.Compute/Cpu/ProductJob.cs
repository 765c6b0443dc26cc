namespace Granary.Compute.Cpu;

/// <summary>
/// The operands of y = x * W^T (+ bias) that every product job shares: activations x [Rows, In], output y [Rows, Out],
/// the bias (or null) and the weights (their layout is the job's own), and the bias added to a chunk's outputs.
/// </summary>
internal abstract unsafe class ProductJob : CpuJob
{
    public float* X;
    public void* W;
    public float* Bias;
    public float* Y;
    public int Rows;
    public int In;
    public int Out;

    /// <summary>Adds the bias to outputs [o0, o1) of every row.</summary>
    protected void AddBias(int o0, int o1)
    {
        if (Bias == null) return;
        for (int r = 0; r < Rows; r++)
        {
            float* y = Y + (long)r * Out;
            for (int o = o0; o < o1; o++) y[o] += Bias[o];
        }
    }
}

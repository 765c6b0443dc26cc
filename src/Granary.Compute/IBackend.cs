namespace Granary.Compute;

/// <summary>
/// The operations a transformer forward pass needs, implemented once per kind of device (CPU here; CUDA
/// later). Model code calls only these, so it runs unchanged on any backend. Matrices are row-major;
/// activations are [rows, features] in <see cref="ActivationType"/>; weights are [out, in] in F32, BF16 or F16
/// (and Q8_0 where <see cref="SupportsWeights"/> says so).
/// Calls are ordered: an op sees the results of the ops issued before it.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>The device in words, e.g. "cpu (16 threads)" or "cuda:0 (NVIDIA H100)".</summary>
    string Name { get; }

    /// <summary>Element type of activations and the KV cache.</summary>
    DType ActivationType { get; }

    /// <summary>
    /// Element type of the residual stream, the sum every layer adds to (<see cref="Embedding"/> writes it,
    /// <see cref="Add"/> and <see cref="MatMulAddResidual"/> update it): float32 on every backend, so that the
    /// rounding of bf16 activations does not accumulate over the layers.
    /// </summary>
    DType ResidualType { get; }

    DeviceBuffer Allocate(DType dtype, long length);

    /// <summary>Whether <see cref="MatMul(DeviceBuffer, DeviceBuffer, DeviceBuffer?, DeviceBuffer, int, int, int)"/> and <see cref="Embedding"/> take weights of this type (Q8_0: the CPU backend only).</summary>
    bool SupportsWeights(DType dtype) => dtype is DType.F32 or DType.BF16 or DType.F16;

    /// <summary>Copies raw little-endian elements of <paramref name="dtype"/> to a new buffer (weights).</summary>
    DeviceBuffer Upload(DType dtype, ReadOnlySpan<byte> data);

    /// <summary>
    /// Uploads a weight matrix (rows of <paramref name="rowLength"/> elements) for MatMul or Embedding; a backend
    /// configured to quantize weights (the CPU backend's <see cref="WeightQuantization"/>) stores it quantized, so every
    /// rank of a parallel group quantizes its own slice. By default it is <see cref="Upload"/>.
    /// </summary>
    DeviceBuffer UploadWeight(DType dtype, ReadOnlySpan<byte> data, long rowLength) => Upload(dtype, data);

    /// <summary>
    /// Elements [offset, offset + length) of <paramref name="buffer"/> as a buffer of their own that shares its memory:
    /// weights loaded as one stacked matrix (q, k and v; gate and up) and used as their parts, so that a backend may
    /// also multiply them as one. Disposing the view frees nothing; <paramref name="buffer"/> must outlive it.
    /// </summary>
    DeviceBuffer Slice(DeviceBuffer buffer, long offset, long length);

    /// <summary>Copies host floats into an activation buffer at an element offset.</summary>
    void CopyFromHost(ReadOnlySpan<float> source, DeviceBuffer destination, long offset = 0);

    /// <summary>Reads an activation buffer (from an element offset) into host floats; waits for pending work.</summary>
    void CopyToHost(DeviceBuffer source, Span<float> destination, long offset = 0);

    /// <summary>Sets the first <paramref name="length"/> elements to zero.</summary>
    void Zero(DeviceBuffer buffer, long length);

    /// <summary>
    /// output[r] = table[batch.TokenIds[r] - vocabStart], or zeros where the id is outside this shard's rows. A batch
    /// that <see cref="BatchLayout.FeedsTokens"/> takes each row's id from the last <see cref="BeginTopK"/> instead.
    /// </summary>
    void Embedding(DeviceBuffer table, int vocabStart, int vocabRows, int dim, BatchLayout batch, DeviceBuffer output);

    /// <summary>output = x / rms(x) * weight, per row.</summary>
    void RmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer output, int rows, int dim, float eps);

    /// <summary>y[rows, outFeatures] = x[rows, inFeatures] * weight[outFeatures, inFeatures]^T (+ bias).</summary>
    void MatMul(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer y, int rows, int inFeatures, int outFeatures);

    /// <summary>
    /// Several projections of the same input (q, k and v): each target's output = x * weight^T (+ bias), as
    /// <see cref="MatMul"/> computes it; a backend may read x once for all of them (one kernel per step on a GPU).
    /// </summary>
    void MatMul(DeviceBuffer x, ReadOnlySpan<Projection> projections, int rows, int inFeatures);

    /// <summary>
    /// The gated MLP's first half: gateOut = silu(x * gate^T) * (x * up^T), [rows, outFeatures]. upOut, of the
    /// same size, is scratch that a backend may use (the fused GPU kernel leaves it untouched).
    /// </summary>
    void GatedMatMul(DeviceBuffer x, DeviceBuffer gate, DeviceBuffer up, DeviceBuffer gateOut, DeviceBuffer upOut, int rows, int inFeatures, int outFeatures);

    /// <summary>
    /// RmsNorm then MatMul: each projection's output = RmsNorm(x) * weight^T (+ bias), with x [rows, inFeatures]
    /// (the float32 residual stream, or activations). A backend may normalize inside the projection's kernel
    /// and leave <paramref name="normed"/> untouched; by default the normalized rows go through it.
    /// </summary>
    void NormMatMul(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer normed, ReadOnlySpan<Projection> projections, int rows, int inFeatures)
    {
        RmsNorm(x, normWeight, normed, rows, inFeatures, eps);
        MatMul(normed, projections, rows, inFeatures);
    }

    /// <summary>RmsNorm then <see cref="GatedMatMul"/>, with <paramref name="normed"/> as in <see cref="NormMatMul"/>.</summary>
    void NormGatedMatMul(DeviceBuffer x, DeviceBuffer normWeight, float eps, DeviceBuffer normed, DeviceBuffer gate, DeviceBuffer up, DeviceBuffer gateOut, DeviceBuffer upOut, int rows, int inFeatures, int outFeatures)
    {
        RmsNorm(x, normWeight, normed, rows, inFeatures, eps);
        GatedMatMul(normed, gate, up, gateOut, upOut, rows, inFeatures, outFeatures);
    }

    /// <summary>
    /// residual += x * weight^T (+ bias), as MatMul into <paramref name="scratch"/> ([rows, outFeatures]) then Add
    /// computes it; a backend may add inside the projection's kernel, leave the scratch untouched, and add the
    /// product at float32 rather than rounded to the activation type.
    /// </summary>
    void MatMulAddResidual(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer? bias, DeviceBuffer scratch, DeviceBuffer residual, int rows, int inFeatures, int outFeatures)
    {
        MatMul(x, weight, bias, scratch, rows, inFeatures, outFeatures);
        Add(residual, scratch, (long)rows * outFeatures);
    }

    /// <summary>
    /// Rotates [rows, heads * headDim] in place by each row's position (rotate-half layout, pairs i and
    /// i + headDim/2); <paramref name="cosSin"/> (float32 on every backend) holds per position headDim/2
    /// cosines then headDim/2 sines.
    /// </summary>
    void Rope(DeviceBuffer x, int rows, int heads, int headDim, BatchLayout batch, DeviceBuffer cosSin);

    /// <summary>output = silu(gate) * up, elementwise over [rows, features].</summary>
    void SiluMul(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer output, long length);

    /// <summary>target += source, elementwise.</summary>
    void Add(DeviceBuffer target, DeviceBuffer source, long length);

    /// <summary>Stores each row's key and value ([rows, kvDim]) at its slot of the layer's paged caches.</summary>
    void WriteKv(DeviceBuffer k, DeviceBuffer v, DeviceBuffer kCache, DeviceBuffer vCache, int kvDim, BatchLayout batch);

    /// <summary>
    /// Causal attention of every row over its sequence's cached keys and values at positions 0..position
    /// (paged: block tables of <paramref name="blockSize"/> slots), grouped-query heads; output [rows, heads * headDim].
    /// </summary>
    void Attention(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer output, int heads, int kvHeads, int headDim, int blockSize, float scale, BatchLayout batch);

    /// <summary>
    /// A layer's attention from its fresh projections: Rope on q ([rows, heads * headDim]) and k, WriteKv of k and
    /// v, then <see cref="Attention"/> into <paramref name="output"/>. A backend may do it in fewer kernels.
    /// </summary>
    void RopeAttention(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer output,
        int heads, int kvHeads, int headDim, int blockSize, float scale, BatchLayout batch, DeviceBuffer cosSin)
    {
        Rope(q, batch.Rows, heads, headDim, batch, cosSin);
        Rope(k, batch.Rows, kvHeads, headDim, batch, cosSin);
        WriteKv(k, v, kCache, vCache, kvHeads * headDim, batch);
        Attention(q, kCache, vCache, output, heads, kvHeads, headDim, blockSize, scale, batch);
    }

    /// <summary>destination[i] = source[rows[i]] for rows of <paramref name="cols"/> elements.</summary>
    void GatherRows(DeviceBuffer source, DeviceBuffer destination, int cols, ReadOnlySpan<int> rows);

    /// <summary>destination[rows[i]] += scales[i] * source[i]: recombines expert outputs.</summary>
    void ScaleAddRows(DeviceBuffer source, DeviceBuffer destination, int cols, ReadOnlySpan<int> rows, ReadOnlySpan<float> scales);

    /// <summary>
    /// For each of <paramref name="rows"/> rows of float32 logits, the <paramref name="k"/> largest (value
    /// descending, lower id first on ties, NaN never) with their ids, and the row's log-sum-exp; the results
    /// land on the host, so that sampling needs only these instead of the whole vocabulary. The logits are
    /// laid out as <paramref name="segments"/> consecutive blocks of [rows, segmentLength] (the rank-major
    /// layout a tensor-parallel all-gather leaves; one block otherwise); row r's id j lives in block
    /// j / segmentLength. k is at most <see cref="TopLogits.MaxK"/>.
    /// </summary>
    void TopK(DeviceBuffer logits, int rows, int segmentLength, int segments, int k, Span<int> ids, Span<float> values, Span<float> logSumExp);

    /// <summary>
    /// Starts <see cref="TopK"/> of these arguments without waiting for its results, so that a backend that runs
    /// asynchronously (a GPU) launches the step now. Up to two may be outstanding (a step launched before the last
    /// one's results are read, its tokens fed on the device: <see cref="BatchLayout.FeedsTokens"/>): a
    /// <see cref="TopK"/> whose arguments are the oldest outstanding one's reads that one's results, which later steps
    /// do not change; beginning a third drops the oldest.
    /// </summary>
    void BeginTopK(DeviceBuffer logits, int rows, int segmentLength, int segments, int k);

    /// <summary>Waits until all issued work is done.</summary>
    void Synchronize();

    /// <summary>
    /// Marks the end of a forward step. A backend that replays repeated steps as graphs launches (or records) the
    /// step now instead of at its next sync point: a rank that never reads results back (all but the logits rank
    /// of a group) has no other. It does not wait for the work.
    /// </summary>
    void EndStep() { }
}

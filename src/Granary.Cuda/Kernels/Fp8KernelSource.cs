namespace Granary.Cuda.Kernels;

/// <summary>
/// The CUDA C of the FP8 (E4M3) weight kernels, compiled with <see cref="KernelSource.Code"/> (whose helpers it uses):
/// codes [out, in] with one float32 scale per output feature (row), as <see cref="Granary.Compute.Fp8.Fp8Weights"/> lays
/// them out. Every E4M3 value is a bf16, so the codes widen to bf16 exactly and the products run on the tensor cores
/// with float32 accumulation; the scale multiplies each finished sum.
/// </summary>
internal static class Fp8KernelSource
{
    /// <summary>Names of the kernels, for the backend's lookups.</summary>
    public static readonly string[] Names = ["gemm_fp8_m16", "gemm_fp8_m32", "gemm_fp8_m64", "fp8_epilogue", "embedding_fp8"];

    /// <summary>Outputs one block of gemm_fp8 takes (8 warps of 16).</summary>
    public const int OutputsPerBlock = 128;

    /// <summary>Inputs a warp takes per iteration: gemm_fp8's slices of the inputs are multiples of it.</summary>
    public const int InputsPerIteration = 64;

    public const string Code = """

// ---- FP8 E4M3 weights ------------------------------------------------------------------------------------------------
__device__ __forceinline__ void mma_bf16(float* c, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
    __trap();
#endif
}
// 16 consecutive activations of one row as 8 bf16 pairs (float32 activations are rounded to bf16 here).
__device__ __forceinline__ void load_x16(const act_t* x, long long at, bool in, u32* a) {
    if (!in) {
#pragma unroll
        for (int i = 0; i < 8; i++) a[i] = 0u;
        return;
    }
#ifdef ACT_F32
    const float4* p = (const float4*)(x + at);
#pragma unroll
    for (int i = 0; i < 4; i++) { float4 v = p[i]; a[2 * i] = bf16x2(v.x, v.y); a[2 * i + 1] = bf16x2(v.z, v.w); }
#else
    const uint4* p = (const uint4*)(x + at);
    uint4 v0 = p[0], v1 = p[1];
    a[0] = v0.x; a[1] = v0.y; a[2] = v0.z; a[3] = v0.w; a[4] = v1.x; a[5] = v1.y; a[6] = v1.z; a[7] = v1.w;
#endif
}

// acc[r, colOffset + o] += scale[o] * sum_i x[r, i] * code[o, i], for rows r < rows and outputs o < n (in % 16 == 0).
// A warp takes 16 outputs (two 8-wide tiles) of 16 * MT rows over one slice of the inputs, the block's 8 warps 128
// consecutive outputs; blockIdx.y % splits picks a slice of kPerSplit inputs (so that narrow matrices fill the GPU
// too), blockIdx.y / splits the rows, 16 * MT at a time. The slices' partial sums meet in acc by atomic adds; fp8_epilogue reads
// them out and zeroes acc again.
// The inputs are permuted, alike for both operands (a dot product does not care in which order it sums): lane (g, t)
// takes the 16 consecutive inputs [16t, 16t + 16) of each 64-input chunk (one 16-byte load of codes per weight row) and
// gives MMA j of the chunk its inputs 4j .. 4j + 3 as the k positions 2t, 2t + 1, 2t + 8, 2t + 9 that the m16n8k16
// fragments assign the lane.
template <int MT>
__device__ __forceinline__ void gemm_fp8_body(const act_t* x, int rows, const unsigned char* w, const float* scales, int n, int k,
    int kPerSplit, int splits, float* acc, int ldAcc, int colOffset) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int n0 = blockIdx.x * 128 + warp * 16, m0 = (blockIdx.y / splits) * 16 * MT;
    const int kBegin = (blockIdx.y % splits) * kPerSplit, kEnd = min(k, kBegin + kPerSplit);
    const uint4* w0 = (const uint4*)(w + (long long)min(n0 + g, n - 1) * k);
    const uint4* w1 = (const uint4*)(w + (long long)min(n0 + 8 + g, n - 1) * k);
    float c[MT][2][4];
#pragma unroll
    for (int m = 0; m < MT; m++)
#pragma unroll
        for (int j = 0; j < 2; j++) c[m][j][0] = c[m][j][1] = c[m][j][2] = c[m][j][3] = 0.f;
    const uint4 none = {0u, 0u, 0u, 0u};
    PDL_TRIGGER();
    int k0 = kBegin + 16 * t;
    uint4 b0 = k0 < kEnd ? ld_stream(w0 + (k0 >> 4)) : none, b1 = k0 < kEnd ? ld_stream(w1 + (k0 >> 4)) : none;
    PDL_WAIT();
    for (; k0 - 16 * t < kEnd; k0 += 64) {
        const bool in = k0 < kEnd;
        // The next chunk's codes are loaded before this chunk's products.
        const int k1 = k0 + 64;
        uint4 nb0 = k1 < kEnd ? ld_stream(w0 + (k1 >> 4)) : none, nb1 = k1 < kEnd ? ld_stream(w1 + (k1 >> 4)) : none;
        u32 a[MT][2][8];
#pragma unroll
        for (int m = 0; m < MT; m++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                int r = m0 + 16 * m + 8 * h + g;
                load_x16(x, (long long)r * k + k0, in && r < rows, a[m][h]);
            }
        const u32 wb0[4] = {b0.x, b0.y, b0.z, b0.w}, wb1[4] = {b1.x, b1.y, b1.z, b1.w};
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint2 q0 = e4m3x4_to_bf16x4(wb0[j]), q1 = e4m3x4_to_bf16x4(wb1[j]);
#pragma unroll
            for (int m = 0; m < MT; m++) {
                mma_bf16(c[m][0], a[m][0][2 * j], a[m][1][2 * j], a[m][0][2 * j + 1], a[m][1][2 * j + 1], q0.x, q0.y);
                mma_bf16(c[m][1], a[m][0][2 * j], a[m][1][2 * j], a[m][0][2 * j + 1], a[m][1][2 * j + 1], q1.x, q1.y);
            }
        }
        b0 = nb0; b1 = nb1;
    }
#pragma unroll
    for (int j = 0; j < 2; j++) {
        const int o = n0 + 8 * j + 2 * t;
        const float s0 = o < n ? scales[o] : 0.f, s1 = o + 1 < n ? scales[o + 1] : 0.f;
#pragma unroll
        for (int m = 0; m < MT; m++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                int r = m0 + 16 * m + 8 * h + g;
                if (r >= rows) continue;
                float* out = acc + (long long)r * ldAcc + colOffset + o;
                if (o < n) atomicAdd(out, c[m][j][2 * h] * s0);
                if (o + 1 < n) atomicAdd(out + 1, c[m][j][2 * h + 1] * s1);
            }
    }
}
#define GEMM_FP8_PARAMS const act_t* x, int rows, const unsigned char* w, const float* scales, int n, int k, int kPerSplit, int splits, float* acc, int ldAcc, int colOffset
#define GEMM_FP8_ARGS x, rows, w, scales, n, k, kPerSplit, splits, acc, ldAcc, colOffset
extern "C" __global__ void __launch_bounds__(256) gemm_fp8_m16(GEMM_FP8_PARAMS) { gemm_fp8_body<1>(GEMM_FP8_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemm_fp8_m32(GEMM_FP8_PARAMS) { gemm_fp8_body<2>(GEMM_FP8_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemm_fp8_m64(GEMM_FP8_PARAMS) { gemm_fp8_body<4>(GEMM_FP8_ARGS); }

// Reads gemm_fp8's sums (acc [rows, total]), zeroes them for the next product, and writes the outputs. mode 0: outputs
// [0, e1) go to y0, [e1, e2) to y1, [e2, total) to y2, each plus its bias, as activations (float32 with floatOut);
// mode 1: y0 is the float32 residual stream and gets outputs plus bias b0 added; mode 2 (gated): outputs [0, total / 2)
// are the gate, the rest the up projection, and y0 = silu(gate) * up.
extern "C" __global__ void fp8_epilogue(float* acc, int rows, int total, int e1, int e2, void* y0, void* y1, void* y2,
    const act_t* b0, const act_t* b1, const act_t* b2, int floatOut, int mode) {
    PDL_START();
    const int width = mode == 2 ? total / 2 : total;
    const long long count = (long long)rows * width;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x) {
        const int r = (int)(i / width), o = (int)(i % width);
        float* a = acc + (long long)r * total + o;
        float v = *a;
        *a = 0.f;
        if (mode == 2) {
            float up = a[width];
            a[width] = 0.f;
            st((act_t*)y0, i, v / (1.f + __expf(-v)) * up);
            continue;
        }
        if (mode == 1) { ((float*)y0)[i] += v + (b0 ? ld(b0, o) : 0.f); continue; }
        void* y; const act_t* b; int local, cols;
        if (o < e1) { y = y0; b = b0; local = o; cols = e1; }
        else if (o < e2) { y = y1; b = b1; local = o - e1; cols = e2 - e1; }
        else { y = y2; b = b2; local = o - e2; cols = total - e2; }
        if (b) v += ld(b, local);
        long long at = (long long)r * cols + local;
        if (floatOut) ((float*)y)[at] = v;
        else st((act_t*)y, at, v);
    }
}

// embedding for an FP8 table: code times its row's scale.
extern "C" __global__ void embedding_fp8(const unsigned char* table, const float* scales, const int* tokens, int vocabStart, int vocabRows, int dim,
    void* out, int outType) {
    PDL_START();
    int row = blockIdx.x;
    int local = tokens[row] - vocabStart;
    bool inside = local >= 0 && local < vocabRows;
    float s = inside ? scales[local] : 0.f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
        stt(out, (long long)row * dim + d, inside ? e4m3_lo(e4m3x4_to_f16x4(table[(long long)local * dim + d]).x) * s : 0.f, outType);
}
""";
}

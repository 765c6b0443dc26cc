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
    public static readonly string[] Names = ["gemm_fp8_n8", "gemm_fp8_n16", "gemm_fp8_n32", "gemm_fp8_n64", "embedding_fp8"];

    /// <summary>Inputs a warp takes per step (a chunk): gemm_fp8's slices of the inputs are multiples of it.</summary>
    public const int InputsPerChunk = 64;

    /// <summary>Room for the tiles' arrival counters at the start of gemm_fp8's workspace (ints); its partial sums follow.</summary>
    public const int Counters = 1024;

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
// 16 consecutive activations of one row as 8 bf16 pairs (float32 activations are rounded to bf16 here); zeros when !in.
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
__device__ __forceinline__ u32 word(uint4 v, int j) { return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w; }
__device__ __forceinline__ float ld_cg(const float* p) { float v; asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p)); return v; }

// One output of gemm_fp8: mode 0 writes output o < e1 to y0, o < e2 to y1 (at o - e1), else to y2 (at o - e2), each
// plus its bias, as activations (float32 with floatOut); mode 1 adds it and bias b0 to the float32 residual y0.
__device__ __forceinline__ void fp8_store(int o, int r, float v, int n, int mode, int floatOut, int e1, int e2,
    void* y0, void* y1, void* y2, const act_t* b0, const act_t* b1, const act_t* b2) {
    if (o >= n) return;
    if (mode == 1) { ((float*)y0)[(long long)r * n + o] += v + (b0 ? ld(b0, o) : 0.f); return; }
    void* y; const act_t* b; int local, cols;
    if (o < e1) { y = y0; b = b0; local = o; cols = e1; }
    else if (o < e2) { y = y1; b = b1; local = o - e1; cols = e2 - e1; }
    else { y = y2; b = b2; local = o - e2; cols = n - e2; }
    if (b) v += ld(b, local);
    long long at = (long long)r * cols + local;
    if (floatOut) ((float*)y)[at] = v;
    else st((act_t*)y, at, v);
}

// y = x W^T (scaled per output) for up to 64 rows of x [rows, k] and FP8 codes W [n, k] (k % 16 == 0), on the tensor
// cores with the weights as the 16-row A operand and x as the 8-column B operand (m16n8k16), so that a step of 8
// rows wastes nothing. A warp holds WT tiles of 16 weight rows by NT tiles of 8 rows of x; gated (mode 2), a tile's
// rows 0-7 are gate rows and 8-15 the same up rows (wa, wb), so that silu(gate) * up meets in one lane's sums.
// The inputs are permuted, alike for both operands (a dot product does not care in which order it sums): lane
// (g, t) takes the 16 consecutive inputs [16t, 16t + 16) of each 64-input chunk (one 16-byte load of codes per weight
// row) and gives MMA j of the chunk its inputs 4j .. 4j + 3 as the k positions 2t, 2t + 1, 2t + 8, 2t + 9 that the
// fragments assign the lane. Each lane keeps 4 / WT chunks of codes (128 bytes) in flight, the first before the
// previous kernel ends. x is read through L1, where the block's warps share it.
// The block's 8 warps are kGroups groups over its slice of the inputs (chunks kg, kg + kGroups, ...) by 8 / kGroups
// groups of outputs; the groups' sums meet in shared memory, in order. blockIdx.y % splits picks a slice of kPerSplit
// inputs, blockIdx.y / splits the rows (64 at a time): with splits > 1 each block leaves its sums in the workspace
// and the last of a tile's blocks to arrive (an arrival counter at the workspace's start) adds them in split order
// and writes the outputs; the sums are the same whichever block comes last. The counters are back at 0 after.
template <int NT, int WT>
__device__ __forceinline__ void gemm_fp8_body(const act_t* x, int rows, const unsigned char* wa, const unsigned char* wb,
    const float* sa, const float* sb, int n, int k, int kPerSplit, int kGroups, float* ws,
    void* y0, void* y1, void* y2, const act_t* b0, const act_t* b1, const act_t* b2, long long ends, int packed) {
    constexpr int D = 4 / WT, R = WT * NT * 4;
    extern __shared__ float red[];
    __shared__ int last;
    const int mode = packed & 3, floatOut = (packed >> 2) & 1;
    const bool gated = mode == 2;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
    const int groups = 8 / kGroups, og = warp % groups, kg = warp / groups;
    const int splits = (k + kPerSplit - 1) / kPerSplit, split = blockIdx.y % splits, rowBlock = blockIdx.y / splits;
    const int m0 = rowBlock * 8 * NT, per = gated ? 8 : 16, out0 = (blockIdx.x * groups + og) * WT * per;
    const int kBegin = split * kPerSplit, kEnd = min(k, kBegin + kPerSplit);
    const int chunks = (kEnd - kBegin + 63) >> 6, mine = chunks > kg ? (chunks - kg + kGroups - 1) / kGroups : 0;
    const uint4* wr[WT][2];
#pragma unroll
    for (int wt = 0; wt < WT; wt++) {
        const int lo = out0 + wt * per + g, hi = gated ? lo : lo + 8;
        wr[wt][0] = (const uint4*)(wa + (long long)min(lo, n - 1) * k);
        wr[wt][1] = (const uint4*)((gated ? wb : wa) + (long long)min(hi, n - 1) * k);
    }
    const uint4 none = {0u, 0u, 0u, 0u};
    uint4 ring[D][WT][2];
    PDL_TRIGGER();
#pragma unroll
    for (int d = 0; d < D; d++) {
        const int at = kBegin + 64 * (kg + kGroups * d) + 16 * t;
#pragma unroll
        for (int wt = 0; wt < WT; wt++)
#pragma unroll
            for (int h = 0; h < 2; h++) ring[d][wt][h] = at < kEnd ? ld_stream(wr[wt][h] + (at >> 4)) : none;
    }
    PDL_WAIT();
    const act_t* xr[NT];
#pragma unroll
    for (int nt = 0; nt < NT; nt++) xr[nt] = x + (long long)min(m0 + 8 * nt + g, rows - 1) * k;
    float c[WT][NT][4];
#pragma unroll
    for (int wt = 0; wt < WT; wt++)
#pragma unroll
        for (int nt = 0; nt < NT; nt++) c[wt][nt][0] = c[wt][nt][1] = c[wt][nt][2] = c[wt][nt][3] = 0.f;
    for (int i0 = 0; i0 < mine; i0 += D) {
#pragma unroll
        for (int d = 0; d < D; d++) {
            if (i0 + d >= mine) break;
            const int at = kBegin + 64 * (kg + kGroups * (i0 + d)) + 16 * t, next = at + 64 * kGroups * D;
            const bool in = at < kEnd;
            uint4 cur[WT][2];
#pragma unroll
            for (int wt = 0; wt < WT; wt++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    cur[wt][h] = ring[d][wt][h];
                    ring[d][wt][h] = next < kEnd ? ld_stream(wr[wt][h] + (next >> 4)) : none;
                }
            u32 xb[NT][8];
#pragma unroll
            for (int nt = 0; nt < NT; nt++) load_x16(xr[nt], at, in, xb[nt]);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                uint2 q[WT][2];
#pragma unroll
                for (int wt = 0; wt < WT; wt++) { q[wt][0] = e4m3x4_to_bf16x4(word(cur[wt][0], j)); q[wt][1] = e4m3x4_to_bf16x4(word(cur[wt][1], j)); }
#pragma unroll
                for (int wt = 0; wt < WT; wt++)
#pragma unroll
                    for (int nt = 0; nt < NT; nt++)
                        mma_bf16(c[wt][nt], q[wt][0].x, q[wt][1].x, q[wt][0].y, q[wt][1].y, xb[nt][2 * j], xb[nt][2 * j + 1]);
            }
        }
    }
    float* flat = &c[0][0][0];
    const int holders = groups * 32;
    if (kGroups > 1) {
        if (kg > 0)
#pragma unroll
            for (int r = 0; r < R; r++) red[((kg - 1) * R + r) * holders + threadIdx.x % holders] = flat[r];
        __syncthreads();
        if (kg == 0)
            for (int q = 1; q < kGroups; q++)
#pragma unroll
                for (int r = 0; r < R; r++) flat[r] += red[((q - 1) * R + r) * holders + threadIdx.x];
    }
    if (splits > 1) {
        const int tile = blockIdx.x + gridDim.x * rowBlock;
        int* counters = (int*)ws;
        float* parts = ws + FP8_COUNTERS;
        if (kg == 0)
#pragma unroll
            for (int r = 0; r < R; r++) parts[((long long)(tile * splits + split) * R + r) * holders + threadIdx.x] = flat[r];
        __threadfence();
        __syncthreads();
        if (threadIdx.x == 0) last = atomicAdd(counters + tile, 1) == splits - 1;
        __syncthreads();
        if (!last) return;
        __threadfence();
        // Every slice's sums back from L2 (this block's too), a slice's loads all in flight before their adds.
        if (kg == 0) {
#pragma unroll
            for (int r = 0; r < R; r++) flat[r] = 0.f;
            for (int q = 0; q < splits; q++) {
                const float* p = parts + (long long)(tile * splits + q) * R * holders + threadIdx.x;
                float v[R];
#pragma unroll
                for (int r = 0; r < R; r++) v[r] = ld_cg(p + r * holders);
#pragma unroll
                for (int r = 0; r < R; r++) flat[r] += v[r];
            }
        }
        if (threadIdx.x == 0) counters[tile] = 0;
    }
    if (kg > 0) return;
    const int e1 = (int)(ends & 0xffffffffll), e2 = (int)(ends >> 32);
#pragma unroll
    for (int wt = 0; wt < WT; wt++) {
        const int lo = out0 + wt * per + g, hi = gated ? lo : lo + 8;
        const float slo = lo < n ? sa[lo] : 0.f, shi = hi < n ? (gated ? sb : sa)[hi] : 0.f;
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int q = 0; q < 2; q++) {
                const int r = m0 + 8 * nt + 2 * t + q;
                if (r >= rows) continue;
                const float vlo = c[wt][nt][q] * slo, vhi = c[wt][nt][2 + q] * shi;
                if (gated) {
                    if (lo < n) st((act_t*)y0, (long long)r * n + lo, vlo / (1.f + __expf(-vlo)) * vhi);
                    continue;
                }
                fp8_store(lo, r, vlo, n, mode, floatOut, e1, e2, y0, y1, y2, b0, b1, b2);
                fp8_store(hi, r, vhi, n, mode, floatOut, e1, e2, y0, y1, y2, b0, b1, b2);
            }
    }
}
#define GEMM_FP8_PARAMS const act_t* x, int rows, const unsigned char* wa, const unsigned char* wb, const float* sa, const float* sb, \
    int n, int k, int kPerSplit, int kGroups, float* ws, void* y0, void* y1, void* y2, const act_t* b0, const act_t* b1, const act_t* b2, \
    long long ends, int packed
#define GEMM_FP8_ARGS x, rows, wa, wb, sa, sb, n, k, kPerSplit, kGroups, ws, y0, y1, y2, b0, b1, b2, ends, packed
extern "C" __global__ void __launch_bounds__(256) gemm_fp8_n8(GEMM_FP8_PARAMS) { gemm_fp8_body<1, 1>(GEMM_FP8_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemm_fp8_n16(GEMM_FP8_PARAMS) { gemm_fp8_body<2, 1>(GEMM_FP8_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemm_fp8_n32(GEMM_FP8_PARAMS) { gemm_fp8_body<4, 1>(GEMM_FP8_ARGS); }
extern "C" __global__ void __launch_bounds__(256, 1) gemm_fp8_n64(GEMM_FP8_PARAMS) { gemm_fp8_body<8, 2>(GEMM_FP8_ARGS); }

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

namespace Granary.Cuda.Kernels;

/// <summary>
/// The CUDA C of every kernel, compiled at run time by NVRTC. It includes no toolkit header (a machine may
/// have only the runtime libraries): bf16 widens and narrows by bit shifts, f16 through inline PTX.
/// Activations are <c>act_t</c>: bf16 by default, float32 when compiled with -DACT_F32.
/// </summary>
internal static class KernelSource
{
    /// <summary>Names of the kernels the backend looks up in the module.</summary>
    public static readonly string[] Names =
    [
        "convert", "embedding", "rms_norm", "rope", "silu_mul", "add", "add_bias", "write_kv",
        "attention", "gather_rows", "scale_add_rows", "gemv", "top_k",
    ];

    public const int AttentionChunk = 256;

    public const string Code = """
typedef unsigned short u16;
typedef unsigned int u32;
#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float bf2f(u16 h) { return __uint_as_float(((u32)h) << 16); }
__device__ __forceinline__ u16 f2bf(float f) {
    u32 b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (u16)0x7fc0;
    b += 0x7fffu + ((b >> 16) & 1u);
    return (u16)(b >> 16);
}
__device__ __forceinline__ float h2f(u16 h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ u16 f2h(float f) { u16 h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }

// Element types as Granary.Compute.DType numbers them: 0 F32, 1 BF16, 2 F16.
__device__ __forceinline__ float ldt(const void* p, long long i, int t) {
    if (t == 0) return ((const float*)p)[i];
    if (t == 1) return bf2f(((const u16*)p)[i]);
    return h2f(((const u16*)p)[i]);
}
__device__ __forceinline__ void stt(void* p, long long i, float v, int t) {
    if (t == 0) ((float*)p)[i] = v;
    else if (t == 1) ((u16*)p)[i] = f2bf(v);
    else ((u16*)p)[i] = f2h(v);
}

#ifdef ACT_F32
typedef float act_t;
__device__ __forceinline__ float ld(const act_t* p, long long i) { return p[i]; }
__device__ __forceinline__ void st(act_t* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ float rnd(float v) { return v; }
#else
typedef u16 act_t;
__device__ __forceinline__ float ld(const act_t* p, long long i) { return bf2f(p[i]); }
__device__ __forceinline__ void st(act_t* p, long long i, float v) { p[i] = f2bf(v); }
__device__ __forceinline__ float rnd(float v) { return bf2f(f2bf(v)); }
#endif

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// Block-wide sum or max; every thread gets the result. scratch: 33 floats of shared memory.
__device__ float block_reduce(float v, float* scratch, bool isMax) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = isMax ? warp_max(v) : warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < warps ? scratch[lane] : (isMax ? NEG_INF : 0.f);
        w = isMax ? warp_max(w) : warp_sum(w);
        if (lane == 0) scratch[32] = w;
    }
    __syncthreads();
    return scratch[32];
}

extern "C" __global__ void convert(const void* src, int srcType, void* dst, int dstType, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        stt(dst, i, ldt(src, i, srcType), dstType);
}

extern "C" __global__ void embedding(const void* table, int tableType, const int* tokens, int vocabStart, int vocabRows, int dim, void* out, int outType) {
    int row = blockIdx.x;
    int local = tokens[row] - vocabStart;
    bool inside = local >= 0 && local < vocabRows;
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
        stt(out, (long long)row * dim + d, inside ? ldt(table, (long long)local * dim + d, tableType) : 0.f, outType);
}

// out = x / rms(x) * w per row (x of element type xType). With a float32 residual stream given, residual += x
// first and the sum is normalized: the residual keeps full precision, the output is rounded as HF rounds it.
extern "C" __global__ void rms_norm(const void* x, int xType, float* residual, const act_t* w, act_t* out, int dim, float eps) {
    __shared__ float scratch[33];
    long long base = (long long)blockIdx.x * dim;
    float ss = 0.f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float v = ldt(x, base + d, xType);
        if (residual) { v += residual[base + d]; residual[base + d] = v; }
        ss += v * v;
    }
    float total = block_reduce(ss, scratch, false);
    float inv = rsqrtf(total / dim + eps);
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float v = residual ? residual[base + d] : ldt(x, base + d, xType);
        st(out, base + d, rnd(v * inv) * ld(w, d));
    }
}

extern "C" __global__ void rope(act_t* x, int rows, int heads, int headDim, const int* positions, const float* cosSin) {
    int half = headDim >> 1;
    long long total = (long long)rows * heads * half;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
        int j = (int)(i % half);
        long long rh = i / half;
        int row = (int)(rh / heads);
        const float* cs = cosSin + (long long)positions[row] * headDim;
        float c = cs[j], s = cs[half + j];
        long long p = rh * headDim + j;
        float a = ld(x, p), b = ld(x, p + half);
        st(x, p, a * c - b * s);
        st(x, p + half, b * c + a * s);
    }
}

extern "C" __global__ void silu_mul(const act_t* gate, const act_t* up, act_t* out, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float g = ld(gate, i);
        st(out, i, rnd(g / (1.f + __expf(-g))) * ld(up, i));
    }
}

extern "C" __global__ void add(void* target, int targetType, const void* source, int sourceType, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        stt(target, i, ldt(target, i, targetType) + ldt(source, i, sourceType), targetType);
}

extern "C" __global__ void add_bias(act_t* y, const act_t* bias, int rows, int cols) {
    long long n = (long long)rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        st(y, i, ld(y, i) + ld(bias, i % cols));
}

extern "C" __global__ void write_kv(const act_t* k, const act_t* v, act_t* kc, act_t* vc, const int* slots, int rows, int kvDim) {
    long long n = (long long)rows * kvDim;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        int row = (int)(i / kvDim), d = (int)(i % kvDim);
        long long dst = (long long)slots[row] * kvDim + d;
        kc[dst] = k[i];
        vc[dst] = v[i];
    }
}

// One block per (query head, row): causal attention over the row's sequence, positions 0..position,
// in chunks of CHUNK keys with an online softmax. Phase 1: one thread per key computes q.k; phase 2:
// threads (group g, dim d) accumulate p * v over the chunk's keys g, g + groups, ...
#define CHUNK 256
extern "C" __global__ void attention(const act_t* q, const act_t* kc, const act_t* vc, act_t* out,
    const int* positions, const int* rowSequence, const int* blockTables, int tableStride,
    int heads, int kvHeads, int headDim, int blockSize, float scale) {
    extern __shared__ float sm[];
    float* qs = sm;                 // headDim
    float* p = qs + headDim;        // CHUNK
    float* scratch = p + CHUNK;     // 33
    float* part = scratch + 33;     // groups * headDim
    int* slots = (int*)(part + blockDim.x); // CHUNK
    int head = blockIdx.x, row = blockIdx.y, tid = threadIdx.x;
    int kvHead = head / (heads / kvHeads);
    int kvDim = kvHeads * headDim;
    int length = positions[row] + 1;
    const int* table = blockTables + (long long)rowSequence[row] * tableStride;
    const act_t* qrow = q + ((long long)row * heads + head) * headDim;
    for (int d = tid; d < headDim; d += blockDim.x) qs[d] = ld(qrow, d) * scale;
    int groups = blockDim.x / headDim;
    int g = tid / headDim, d = tid % headDim;
    bool accumulates = g < groups;
    float acc = 0.f, runMax = NEG_INF, runSum = 0.f;
    long long headOffset = (long long)kvHead * headDim;
    __syncthreads();
    for (int start = 0; start < length; start += CHUNK) {
        int n = min(CHUNK, length - start);
        float localMax = NEG_INF;
        for (int t = tid; t < n; t += blockDim.x) {
            int pos = start + t;
            int slot = table[pos / blockSize] * blockSize + pos % blockSize;
            slots[t] = slot;
            const act_t* key = kc + (long long)slot * kvDim + headOffset;
            float s = 0.f;
#ifndef ACT_F32
            if ((headDim & 7) == 0) {
                const uint4* k4 = (const uint4*)key;
                for (int c = 0; c < (headDim >> 3); c++) {
                    uint4 u = k4[c];
                    const float* qq = qs + c * 8;
                    s += qq[0] * __uint_as_float(u.x << 16) + qq[1] * __uint_as_float(u.x & 0xffff0000u)
                       + qq[2] * __uint_as_float(u.y << 16) + qq[3] * __uint_as_float(u.y & 0xffff0000u)
                       + qq[4] * __uint_as_float(u.z << 16) + qq[5] * __uint_as_float(u.z & 0xffff0000u)
                       + qq[6] * __uint_as_float(u.w << 16) + qq[7] * __uint_as_float(u.w & 0xffff0000u);
                }
            } else
#endif
            for (int c = 0; c < headDim; c++) s += qs[c] * ld(key, c);
            p[t] = s;
            localMax = fmaxf(localMax, s);
        }
        float chunkMax = block_reduce(localMax, scratch, true);
        float newMax = fmaxf(runMax, chunkMax);
        float correction = __expf(runMax - newMax);
        float localSum = 0.f;
        for (int t = tid; t < n; t += blockDim.x) { float e = __expf(p[t] - newMax); p[t] = e; localSum += e; }
        float chunkSum = block_reduce(localSum, scratch, false);
        runSum = runSum * correction + chunkSum;
        runMax = newMax;
        acc *= correction;
        if (accumulates) {
            const act_t* vbase = vc + headOffset + d;
            // Four independent loads in flight per thread.
            float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
            int t = g;
            for (; t + 3 * groups < n; t += 4 * groups) {
                a0 += p[t] * ld(vbase, (long long)slots[t] * kvDim);
                a1 += p[t + groups] * ld(vbase, (long long)slots[t + groups] * kvDim);
                a2 += p[t + 2 * groups] * ld(vbase, (long long)slots[t + 2 * groups] * kvDim);
                a3 += p[t + 3 * groups] * ld(vbase, (long long)slots[t + 3 * groups] * kvDim);
            }
            for (; t < n; t += groups) a0 += p[t] * ld(vbase, (long long)slots[t] * kvDim);
            acc += (a0 + a1) + (a2 + a3);
        }
        __syncthreads();
    }
    if (accumulates) part[g * headDim + d] = acc;
    __syncthreads();
    if (tid < headDim) {
        float sum = 0.f;
        for (int j = 0; j < groups; j++) sum += part[j * headDim + tid];
        st(out, ((long long)row * heads + head) * headDim + tid, sum / runSum);
    }
}

extern "C" __global__ void gather_rows(const act_t* src, act_t* dst, int cols, const int* rows) {
    long long from = (long long)rows[blockIdx.x] * cols, to = (long long)blockIdx.x * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[to + c] = src[from + c];
}

// dst[rows[i]] += scales[i] * src[i], rows in order (a row may repeat), columns split over threads.
extern "C" __global__ void scale_add_rows(const act_t* src, act_t* dst, int cols, const int* rows, const float* scales, int count) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int i = 0; i < count; i++) {
        long long t = (long long)rows[i] * cols + c;
        st(dst, t, ld(dst, t) + scales[i] * ld(src, (long long)i * cols + c));
    }
}

// y = x W^T for up to 8 rows of bf16 x and bf16 weights, float accumulation, 16-byte loads (inFeatures % 8 == 0).
// The outputs of up to three matrices that share x (q, k, v) are numbered one after the other: output o < e1
// is row o of w0 into y0, o < e2 row o - e1 of w1 into y1, else row o - e2 of w2 into y2, each plus its bias
// when given. gated: output o reads row o of w0 (gate) and of w1 (up) and writes silu(gate) * up into y0.
// Each output's inputs are split over splitK warps of the 8 in a block (8 / splitK outputs a block): more
// loads in flight for matrices with few outputs (k/v) or long rows (down).
// packed = rows | splitK << 8 | floatOut << 16 | gated << 17.
#define GEMV_ROWS 8
__device__ __forceinline__ float dot8(uint4 a, uint4 b) {
    return __uint_as_float(a.x << 16) * __uint_as_float(b.x << 16) + __uint_as_float(a.x & 0xffff0000u) * __uint_as_float(b.x & 0xffff0000u)
         + __uint_as_float(a.y << 16) * __uint_as_float(b.y << 16) + __uint_as_float(a.y & 0xffff0000u) * __uint_as_float(b.y & 0xffff0000u)
         + __uint_as_float(a.z << 16) * __uint_as_float(b.z << 16) + __uint_as_float(a.z & 0xffff0000u) * __uint_as_float(b.z & 0xffff0000u)
         + __uint_as_float(a.w << 16) * __uint_as_float(b.w << 16) + __uint_as_float(a.w & 0xffff0000u) * __uint_as_float(b.w & 0xffff0000u);
}
extern "C" __global__ void gemv(const u16* x, const u16* w0, const u16* w1, const u16* w2, void* y0, void* y1, void* y2,
    const u16* b0, const u16* b1, const u16* b2, int e1, int e2, int total, int inFeatures, int packed) {
    const int rows = packed & 0xff, splitK = (packed >> 8) & 0xff, floatOut = (packed >> 16) & 1, gated = (packed >> 17) & 1;
    __shared__ float partial[8][2][GEMV_ROWS];
    int warpInBlock = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int perBlock = 8 / splitK;
    int out = blockIdx.x * perBlock + warpInBlock / splitK, part = warpInBlock % splitK;
    int chunks = inFeatures >> 3;
    int begin = (int)((long long)chunks * part / splitK), end = (int)((long long)chunks * (part + 1) / splitK);
    float acc[GEMV_ROWS], acc2[GEMV_ROWS];
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) { acc[r] = 0.f; acc2[r] = 0.f; }
    if (out < total) {
        const u16* w = gated || out < e1 ? w0 : out < e2 ? w1 : w2;
        int local = gated || out < e1 ? out : out < e2 ? out - e1 : out - e2;
        const uint4* wr = (const uint4*)(w + (long long)local * inFeatures);
        const uint4* ur = (const uint4*)(w1 + (long long)local * inFeatures);
        if (gated) {
#pragma unroll 2
            for (int c = begin + lane; c < end; c += 32) {
                uint4 g = wr[c], u = ur[c];
#pragma unroll
                for (int r = 0; r < GEMV_ROWS; r++) {
                    if (r < rows) {
                        uint4 v = ((const uint4*)(x + (long long)r * inFeatures))[c];
                        acc[r] += dot8(g, v);
                        acc2[r] += dot8(u, v);
                    }
                }
            }
        } else {
#pragma unroll 4
            for (int c = begin + lane; c < end; c += 32) {
                uint4 u = wr[c];
#pragma unroll
                for (int r = 0; r < GEMV_ROWS; r++) {
                    if (r < rows) acc[r] += dot8(u, ((const uint4*)(x + (long long)r * inFeatures))[c]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r < rows) {
            float s = warp_sum(acc[r]);
            float s2 = gated ? warp_sum(acc2[r]) : 0.f;
            if (lane == 0) { partial[warpInBlock][0][r] = s; partial[warpInBlock][1][r] = s2; }
        }
    }
    __syncthreads();
    int t = threadIdx.x;
    if (t < perBlock * rows) {
        int o = t / rows, r = t % rows;
        int index = blockIdx.x * perBlock + o;
        if (index < total) {
            float sum = 0.f, sum2 = 0.f;
            for (int k = 0; k < splitK; k++) { sum += partial[o * splitK + k][0][r]; sum2 += partial[o * splitK + k][1][r]; }
            void* y; const u16* b; int local, width;
            if (gated) { y = y0; b = 0; local = index; width = total; sum = sum / (1.f + __expf(-sum)) * sum2; }
            else if (index < e1) { y = y0; b = b0; local = index; width = e1; }
            else if (index < e2) { y = y1; b = b1; local = index - e1; width = e2 - e1; }
            else { y = y2; b = b2; local = index - e2; width = total - e2; }
            if (b) sum += bf2f(b[local]);
            long long at = (long long)r * width + local;
            if (floatOut) ((float*)y)[at] = sum;
            else ((u16*)y)[at] = f2bf(sum);
        }
    }
}

// The k largest float32 logits of each row (value descending, lower id first on ties, NaN never) and the row's
// log-sum-exp, one block a row: the first pass finds the largest and the max, the second sums exp, each
// further round takes the largest of the values that rank after the previous pick. Row r's ids lie in
// `segments` blocks of [rows, segLen] (the rank-major layout of a tensor-parallel all-gather).
// out: ids [rows, k] as int, then values [rows, k], then lse [rows].
__device__ __forceinline__ bool ranks_before(float v, int i, float bv, int bi) {
    return bi < 0 || v > bv || (v == bv && i < bi);
}
__device__ void block_best(float& v, int& i, float* sv, int* si) {
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, v, o);
        int oi = __shfl_xor_sync(0xffffffffu, i, o);
        if (oi >= 0 && ranks_before(ov, oi, v, i)) { v = ov; i = oi; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0) { sv[warp] = v; si[warp] = i; }
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? sv[lane] : NEG_INF;
        i = lane < warps ? si[lane] : -1;
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(0xffffffffu, v, o);
            int oi = __shfl_xor_sync(0xffffffffu, i, o);
            if (oi >= 0 && ranks_before(ov, oi, v, i)) { v = ov; i = oi; }
        }
        if (lane == 0) { sv[32] = v; si[32] = i; }
    }
    __syncthreads();
    v = sv[32];
    i = si[32];
}
extern "C" __global__ void top_k(const float* logits, int rows, int segLen, int segments, int k, int* outIds, float* outValues, float* outLse) {
    __shared__ float sv[33];
    __shared__ int si[33];
    __shared__ float scratch[33];
    int row = blockIdx.x;
    float pv = 0.f; int pi = -1; // the previous pick; none yet
    float max = NEG_INF;
    for (int round = 0; round < (k > 0 ? k : 1); round++) {
        float bv = NEG_INF; int bi = -1;
        for (int s = 0; s < segments; s++) {
            const float* seg = logits + ((long long)s * rows + row) * segLen;
            for (int o = threadIdx.x; o < segLen; o += blockDim.x) {
                float v = seg[o];
                int id = s * segLen + o;
                if (v != v) continue;
                if (pi >= 0 && !(v < pv || (v == pv && id > pi))) continue;
                if (ranks_before(v, id, bv, bi)) { bv = v; bi = id; }
            }
        }
        block_best(bv, bi, sv, si);
        if (round == 0) max = bi >= 0 ? bv : NEG_INF;
        if (k > 0 && threadIdx.x == 0) { outIds[row * k + round] = bi; outValues[row * k + round] = bi >= 0 ? bv : NEG_INF; }
        if (round == 0) {
            // The log-sum-exp over the row, relative to its largest value.
            float sum = 0.f;
            if (max > NEG_INF) {
                for (int s = 0; s < segments; s++) {
                    const float* seg = logits + ((long long)s * rows + row) * segLen;
                    for (int o = threadIdx.x; o < segLen; o += blockDim.x) { float v = seg[o]; if (v == v) sum += expf(v - max); }
                }
            }
            float total = block_reduce(sum, scratch, false);
            if (threadIdx.x == 0) outLse[row] = max > NEG_INF ? max + logf(total) : NEG_INF;
        }
        if (bi < 0) {
            // Fewer values than k: the rest stay empty.
            for (int j = round + 1; j < k && threadIdx.x == 0; j++) { outIds[row * k + j] = -1; outValues[row * k + j] = NEG_INF; }
            break;
        }
        pv = bv; pi = bi;
    }
}
""";
}

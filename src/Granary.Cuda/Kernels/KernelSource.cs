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
        "attention", "gather_rows", "scale_add_rows", "gemv", "gemv_split",
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

extern "C" __global__ void embedding(const void* table, int tableType, const int* tokens, int vocabStart, int vocabRows, int dim, act_t* out) {
    int row = blockIdx.x;
    int local = tokens[row] - vocabStart;
    bool inside = local >= 0 && local < vocabRows;
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
        st(out, (long long)row * dim + d, inside ? ldt(table, (long long)local * dim + d, tableType) : 0.f);
}

// out = x / rms(x) * w per row; with fused != 0, residual += x first and the sum is normalized.
extern "C" __global__ void rms_norm(const act_t* x, act_t* residual, const act_t* w, act_t* out, int dim, float eps, int fused) {
    __shared__ float scratch[33];
    long long base = (long long)blockIdx.x * dim;
    const act_t* src = fused ? residual : x;
    float ss = 0.f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float v;
        if (fused) { v = rnd(ld(residual, base + d) + ld(x, base + d)); st(residual, base + d, v); }
        else v = ld(x, base + d);
        ss += v * v;
    }
    float total = block_reduce(ss, scratch, false);
    float inv = rsqrtf(total / dim + eps);
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
        st(out, base + d, rnd(ld(src, base + d) * inv) * ld(w, d));
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

extern "C" __global__ void add(act_t* target, const act_t* source, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        st(target, i, ld(target, i) + ld(source, i));
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

// y[r, o] = x[r, :] . W[o, :] for up to 8 rows: the 8 warps of a block take 8 / splitK outputs, each
// output's inputs split over splitK warps (more loads in flight for narrow matrices), 16-byte loads of
// bf16 weights (inFeatures % 8 == 0), float accumulation. Built for bf16 activations only.
#define GEMV_ROWS 8
// One warp per output: the plain form, faster when there are outputs enough to fill the chip.
extern "C" __global__ void gemv(const u16* x, const u16* w, void* y, int rows, int inFeatures, int outFeatures, int floatOut) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (warp >= outFeatures) return;
    const uint4* wr = (const uint4*)(w + (long long)warp * inFeatures);
    int chunks = inFeatures >> 3;
    float acc[GEMV_ROWS];
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) acc[r] = 0.f;
#pragma unroll 4
    for (int c = lane; c < chunks; c += 32) {
        uint4 u = wr[c];
        float wf[8] = { __uint_as_float(u.x << 16), __uint_as_float(u.x & 0xffff0000u), __uint_as_float(u.y << 16), __uint_as_float(u.y & 0xffff0000u),
                        __uint_as_float(u.z << 16), __uint_as_float(u.z & 0xffff0000u), __uint_as_float(u.w << 16), __uint_as_float(u.w & 0xffff0000u) };
#pragma unroll
        for (int r = 0; r < GEMV_ROWS; r++) {
            if (r < rows) {
                uint4 v = ((const uint4*)(x + (long long)r * inFeatures))[c];
                acc[r] += wf[0] * __uint_as_float(v.x << 16) + wf[1] * __uint_as_float(v.x & 0xffff0000u)
                        + wf[2] * __uint_as_float(v.y << 16) + wf[3] * __uint_as_float(v.y & 0xffff0000u)
                        + wf[4] * __uint_as_float(v.z << 16) + wf[5] * __uint_as_float(v.z & 0xffff0000u)
                        + wf[6] * __uint_as_float(v.w << 16) + wf[7] * __uint_as_float(v.w & 0xffff0000u);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r < rows) {
            float s = warp_sum(acc[r]);
            if (lane == 0) {
                long long at = (long long)r * outFeatures + warp;
                if (floatOut) ((float*)y)[at] = s;
                else st((act_t*)y, at, s);
            }
        }
    }
}

// The same with each output's inputs split over splitK warps of a block (8 / splitK outputs a block):
// more loads in flight for matrices with few outputs (k/v) or long rows (down).
extern "C" __global__ void gemv_split(const u16* x, const u16* w, void* y, int rows, int inFeatures, int outFeatures, int floatOut, int splitK) {
    __shared__ float partial[8][GEMV_ROWS];
    int warpInBlock = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int perBlock = 8 / splitK;
    int out = blockIdx.x * perBlock + warpInBlock / splitK, part = warpInBlock % splitK;
    bool active = out < outFeatures;
    int chunks = inFeatures >> 3;
    int begin = (int)((long long)chunks * part / splitK), end = (int)((long long)chunks * (part + 1) / splitK);
    float acc[GEMV_ROWS];
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) acc[r] = 0.f;
    if (active) {
        const uint4* wr = (const uint4*)(w + (long long)out * inFeatures);
#pragma unroll 4
        for (int c = begin + lane; c < end; c += 32) {
            uint4 u = wr[c];
            float wf[8] = { __uint_as_float(u.x << 16), __uint_as_float(u.x & 0xffff0000u), __uint_as_float(u.y << 16), __uint_as_float(u.y & 0xffff0000u),
                            __uint_as_float(u.z << 16), __uint_as_float(u.z & 0xffff0000u), __uint_as_float(u.w << 16), __uint_as_float(u.w & 0xffff0000u) };
#pragma unroll
            for (int r = 0; r < GEMV_ROWS; r++) {
                if (r < rows) {
                    uint4 v = ((const uint4*)(x + (long long)r * inFeatures))[c];
                    acc[r] += wf[0] * __uint_as_float(v.x << 16) + wf[1] * __uint_as_float(v.x & 0xffff0000u)
                            + wf[2] * __uint_as_float(v.y << 16) + wf[3] * __uint_as_float(v.y & 0xffff0000u)
                            + wf[4] * __uint_as_float(v.z << 16) + wf[5] * __uint_as_float(v.z & 0xffff0000u)
                            + wf[6] * __uint_as_float(v.w << 16) + wf[7] * __uint_as_float(v.w & 0xffff0000u);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r < rows) {
            float sum = warp_sum(acc[r]);
            if (lane == 0) partial[warpInBlock][r] = sum;
        }
    }
    __syncthreads();
    int t = threadIdx.x;
    if (t < perBlock * rows) {
        int o = t / rows, r = t % rows;
        int outIndex = blockIdx.x * perBlock + o;
        if (outIndex < outFeatures) {
            float sum = 0.f;
            for (int k = 0; k < splitK; k++) sum += partial[o * splitK + k][r];
            long long at = (long long)r * outFeatures + outIndex;
            if (floatOut) ((float*)y)[at] = sum;
            else st((act_t*)y, at, sum);
        }
    }
}
""";
}

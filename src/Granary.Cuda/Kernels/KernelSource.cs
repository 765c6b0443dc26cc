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
        "convert", "embedding", "rms_norm", "rope", "silu_mul", "add", "add_bias", "write_kv", "rope_write_kv",
        "attention", "gather_rows", "scale_add_rows", "gemv", "gemv_gated", "gemv_split", "gemv_fp8", "gemv_fp8_gated", "gemv_fp8_split",
        "top_k_part", "top_k_merge", "feed_tokens",
        "split_stacked", "silu_mul_stacked",
    ];

    /// <summary>Keys attention scores at a time (CHUNK in the code, defined by the compile options).</summary>
    public const int AttentionChunk = 256;

    /// <summary>Logits each thread of top_k_part holds (TOPK_ITEMS in the code, defined by the compile options).</summary>
    public const int TopKItems = 8;

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
#else
typedef u16 act_t;
__device__ __forceinline__ float ld(const act_t* p, long long i) { return bf2f(p[i]); }
__device__ __forceinline__ void st(act_t* p, long long i, float v) { p[i] = f2bf(v); }
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

// Programmatic dependent launch (sm_90 on): a kernel lets the next one in the stream start as soon as all of its
// blocks run (PDL_TRIGGER), and waits for the previous one to finish, its writes visible, before touching any data
// the previous kernels write or read (PDL_WAIT). Only reads of weights, and of the step's layout (positions, block
// tables: copied in before the step's first kernel, and a kernel right after a copy is not launched early), may come
// before the wait. Without the launch attribute, or before sm_90, both are no-ops.
#if __CUDA_ARCH__ >= 900
#define PDL_TRIGGER() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define PDL_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#else
#define PDL_TRIGGER()
#define PDL_WAIT()
#endif
#define PDL_START() PDL_TRIGGER(); PDL_WAIT()

extern "C" __global__ void convert(const void* src, int srcType, void* dst, int dstType, long long n) {
    PDL_START();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        stt(dst, i, ldt(src, i, srcType), dstType);
}

// A step fed from the last one's top-k: row r's token is the best id (the first of k) of its source logit row.
extern "C" __global__ void feed_tokens(int* tokens, const int* sources, int rows, const int* best, int k) {
    PDL_START();
    for (int r = blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += gridDim.x * blockDim.x) tokens[r] = best[sources[r] * k];
}

extern "C" __global__ void embedding(const void* table, int tableType, const int* tokens, int vocabStart, int vocabRows, int dim, void* out, int outType) {
    PDL_START();
    int row = blockIdx.x;
    int local = tokens[row] - vocabStart;
    bool inside = local >= 0 && local < vocabRows;
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
        stt(out, (long long)row * dim + d, inside ? ldt(table, (long long)local * dim + d, tableType) : 0.f, outType);
}

// out = x / rms(x) * w per row (x of element type xType: activations or the float32 residual stream), rounded
// to the activation type once, at the end (HF's bf16 path rounds the normalized value too: a second error).
extern "C" __global__ void rms_norm(const void* x, int xType, const act_t* w, act_t* out, int dim, float eps) {
    PDL_START();
    __shared__ float scratch[33];
    long long base = (long long)blockIdx.x * dim;
    float ss = 0.f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) { float v = ldt(x, base + d, xType); ss += v * v; }
    float inv = rsqrtf(block_reduce(ss, scratch, false) / dim + eps);
    for (int d = threadIdx.x; d < dim; d += blockDim.x) st(out, base + d, ldt(x, base + d, xType) * inv * ld(w, d));
}

// The rotate-half pair (from[i], from[i + half]) by the angle with cosine c and sine s, stored at to[o], to[o + half].
__device__ __forceinline__ void rotate_pair(const act_t* from, long long i, act_t* to, long long o, int half, float c, float s) {
    float a = ld(from, i), b = ld(from, i + half);
    st(to, o, a * c - b * s);
    st(to, o + half, b * c + a * s);
}

extern "C" __global__ void rope(act_t* x, int rows, int heads, int headDim, const int* positions, const float* cosSin) {
    PDL_START();
    int half = headDim >> 1;
    long long total = (long long)rows * heads * half;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
        int j = (int)(i % half);
        long long rh = i / half;
        int row = (int)(rh / heads);
        const float* cs = cosSin + (long long)positions[row] * headDim;
        float c = cs[j], s = cs[half + j];
        long long p = rh * headDim + j;
        rotate_pair(x, p, x, p, half, c, s);
    }
}

extern "C" __global__ void silu_mul(const act_t* gate, const act_t* up, act_t* out, long long n) {
    PDL_START();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float g = ld(gate, i);
        st(out, i, g / (1.f + __expf(-g)) * ld(up, i));
    }
}

// The float32 product of stacked weights, [rows, total] (q, k and v side by side), into each part's own
// [rows, width] buffer with its bias added, rounded once. Parts: [0, e1), [e1, e2), [e2, total).
extern "C" __global__ void split_stacked(const float* src, int rows, int e1, int e2, int total, act_t* y0, act_t* y1, act_t* y2,
    const act_t* b0, const act_t* b1, const act_t* b2) {
    PDL_START();
    long long n = (long long)rows * total;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        int row = (int)(i / total), col = (int)(i % total);
        act_t* y = col < e1 ? y0 : col < e2 ? y1 : y2;
        const act_t* b = col < e1 ? b0 : col < e2 ? b1 : b2;
        int local = col < e1 ? col : col < e2 ? col - e1 : col - e2;
        int width = col < e1 ? e1 : col < e2 ? e2 - e1 : total - e2;
        float v = src[i];
        if (b) v += ld(b, local);
        st(y, (long long)row * width + local, v);
    }
}

// silu(gate) * up from the float32 product of the stacked gate and up weights, [rows, 2 * width], rounded once.
extern "C" __global__ void silu_mul_stacked(const float* src, int rows, int width, act_t* out) {
    PDL_START();
    long long n = (long long)rows * width;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        long long row = i / width, j = i % width;
        float g = src[row * 2 * width + j], u = src[row * 2 * width + width + j];
        st(out, i, g / (1.f + __expf(-g)) * u);
    }
}

extern "C" __global__ void add(void* target, int targetType, const void* source, int sourceType, long long n) {
    PDL_START();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        stt(target, i, ldt(target, i, targetType) + ldt(source, i, sourceType), targetType);
}

extern "C" __global__ void add_bias(act_t* y, const act_t* bias, int rows, int cols) {
    PDL_START();
    long long n = (long long)rows * cols;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        st(y, i, ld(y, i) + ld(bias, i % cols));
}

extern "C" __global__ void write_kv(const act_t* k, const act_t* v, act_t* kc, act_t* vc, const int* slots, int rows, int kvDim) {
    PDL_START();
    long long n = (long long)rows * kvDim;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        int row = (int)(i / kvDim), d = (int)(i % kvDim);
        long long dst = (long long)slots[row] * kvDim + d;
        kc[dst] = k[i];
        vc[dst] = v[i];
    }
}

// rope on q and k, then write_kv, in one pass: item (row, head h of the heads then the kv heads, pair j);
// a key pair, once rotated, is also stored at the row's cache slot with the value pair beside it.
extern "C" __global__ void rope_write_kv(act_t* q, act_t* k, const act_t* v, act_t* kc, act_t* vc, int rows, int heads, int kvHeads,
    int headDim, const int* positions, const int* slots, const float* cosSin) {
    PDL_START();
    int half = headDim >> 1, all = heads + kvHeads, kvDim = kvHeads * headDim;
    long long total = (long long)rows * all * half;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
        int j = (int)(i % half);
        long long rh = i / half;
        int h = (int)(rh % all), row = (int)(rh / all);
        const float* cs = cosSin + (long long)positions[row] * headDim;
        float c = cs[j], s = cs[half + j];
        if (h < heads) {
            long long p = ((long long)row * heads + h) * headDim + j;
            rotate_pair(q, p, q, p, half, c, s);
        } else {
            long long p = (long long)row * kvDim + (h - heads) * headDim + j;
            long long dst = (long long)slots[row] * kvDim + (h - heads) * headDim + j;
            rotate_pair(k, p, k, p, half, c, s);
            kc[dst] = k[p];
            kc[dst + half] = k[p + half];
            vc[dst] = v[p];
            vc[dst + half] = v[p + half];
        }
    }
}

// One block per (query head, row): causal attention over the row's sequence, positions 0..position,
// in chunks of CHUNK keys with an online softmax. Phase 1: one thread per key computes q.k; phase 2:
// threads (group g, dims) accumulate p * v over the chunk's keys g, g + groups, ...: with bf16 and a head
// size of whole 16-byte chunks each thread takes one chunk of 8 dims, so that a group spans headDim / 8
// threads and many keys load at once; otherwise one dim.
// With newK given (decode: each row its sequence's only row in the step), the kernel does rope_write_kv's work
// too: each block rotates its q head and its row's new key, takes the new key and value for the row's own
// position from there rather than from the caches, and the first block of each KV head stores them at the slot.
// Before waiting for the kernel that computes q, each block asks L2 for its first chunk's cached keys and values:
// a prefetch only moves lines into L2, where any later write lands too, so it never yields stale data.
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" :: "l"(p)); }
extern "C" __global__ void attention(const act_t* q, act_t* kc, act_t* vc, act_t* out,
    const int* positions, const int* rowSequence, const int* blockTables, int tableStride,
    int heads, int kvHeads, int headDim, int blockSize, float scale,
    const act_t* newK, const act_t* newV, const int* slotMapping, const float* cosSin) {
    PDL_TRIGGER();
    extern __shared__ float sm[];
    act_t* knew = (act_t*)sm;       // headDim (16-byte aligned for the wide loads)
    act_t* vnew = knew + headDim;   // headDim
    float* qs = (float*)(vnew + headDim); // headDim
    float* p = qs + headDim;        // CHUNK
    float* scratch = p + CHUNK;     // 33
    float* part = scratch + 33;     // groups * headDim, at most 8 * blockDim
    int* slots = (int*)(part + 8 * blockDim.x); // CHUNK
    int head = blockIdx.x, row = blockIdx.y, tid = threadIdx.x;
    int kvHead = head / (heads / kvHeads);
    int kvDim = kvHeads * headDim;
    int length = positions[row] + 1;
    const int* table = blockTables + (long long)rowSequence[row] * tableStride;
    const act_t* qrow = q + ((long long)row * heads + head) * headDim;
    const bool fused = newK != 0;
    long long headOffset = (long long)kvHead * headDim;
    {
        int lines = (headDim * (int)sizeof(act_t) + 127) >> 7;
        for (int i = tid; i < min(length, CHUNK) * lines; i += blockDim.x) {
            int t = i / lines;
            long long at = ((long long)(table[t / blockSize] * blockSize + t % blockSize) * kvDim + headOffset) * sizeof(act_t) + (i % lines) * 128;
            prefetch_l2((const char*)kc + at);
            prefetch_l2((const char*)vc + at);
        }
    }
    PDL_WAIT();
    if (fused) {
        int half = headDim >> 1;
        const float* cs = cosSin + (long long)positions[row] * headDim;
        const act_t* krow = newK + ((long long)row * kvHeads + kvHead) * headDim;
        const act_t* vrow = newV + ((long long)row * kvHeads + kvHead) * headDim;
        for (int j = tid; j < half; j += blockDim.x) {
            float c = cs[j], s = cs[half + j];
            rotate_pair(krow, j, knew, j, half, c, s);
            float a = ld(qrow, j), b = ld(qrow, j + half);
            qs[j] = (a * c - b * s) * scale;
            qs[j + half] = (b * c + a * s) * scale;
        }
        for (int j = tid; j < headDim; j += blockDim.x) vnew[j] = vrow[j];
        __syncthreads();
        if (head % (heads / kvHeads) == 0) {
            long long at = (long long)slotMapping[row] * kvDim + (long long)kvHead * headDim;
            for (int j = tid; j < headDim; j += blockDim.x) { kc[at + j] = knew[j]; vc[at + j] = vnew[j]; }
        }
    } else {
        for (int d = tid; d < headDim; d += blockDim.x) qs[d] = ld(qrow, d) * scale;
    }
#ifdef ACT_F32
    const bool wide = false;
#else
    const bool wide = (headDim & 7) == 0;
#endif
    int width = wide ? headDim >> 3 : headDim; // threads a group spans
    int groups = blockDim.x / width;
    int g = tid / width, d = tid % width;      // d: the thread's dim, or its chunk of 8 dims
    float wacc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    bool accumulates = g < groups;
    float acc = 0.f, runMax = NEG_INF, runSum = 0.f;
    __syncthreads();
    for (int start = 0; start < length; start += CHUNK) {
        int n = min(CHUNK, length - start);
        float localMax = NEG_INF;
        for (int t = tid; t < n; t += blockDim.x) {
            int pos = start + t;
            bool own = fused && pos == length - 1;
            int slot = own ? -1 : table[pos / blockSize] * blockSize + pos % blockSize;
            slots[t] = slot;
            const act_t* key = own ? knew : kc + (long long)slot * kvDim + headOffset;
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
#pragma unroll
        for (int i = 0; i < 8; i++) wacc[i] *= correction;
        if (accumulates && wide) {
            const uint4* vbase = (const uint4*)(vc + headOffset) + d;
#pragma unroll 4
            for (int t = g; t < n; t += groups) {
                uint4 u = slots[t] < 0 ? ((const uint4*)vnew)[d] : vbase[(long long)slots[t] * (kvDim >> 3)];
                float pt = p[t];
                wacc[0] += pt * __uint_as_float(u.x << 16); wacc[1] += pt * __uint_as_float(u.x & 0xffff0000u);
                wacc[2] += pt * __uint_as_float(u.y << 16); wacc[3] += pt * __uint_as_float(u.y & 0xffff0000u);
                wacc[4] += pt * __uint_as_float(u.z << 16); wacc[5] += pt * __uint_as_float(u.z & 0xffff0000u);
                wacc[6] += pt * __uint_as_float(u.w << 16); wacc[7] += pt * __uint_as_float(u.w & 0xffff0000u);
            }
        } else if (accumulates) {
            const act_t* vbase = vc + headOffset + d;
#define VALUE(slot) ((slot) < 0 ? ld(vnew, d) : ld(vbase, (long long)(slot) * kvDim))
            // Four independent loads in flight per thread.
            float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
            int t = g;
            for (; t + 3 * groups < n; t += 4 * groups) {
                a0 += p[t] * VALUE(slots[t]);
                a1 += p[t + groups] * VALUE(slots[t + groups]);
                a2 += p[t + 2 * groups] * VALUE(slots[t + 2 * groups]);
                a3 += p[t + 3 * groups] * VALUE(slots[t + 3 * groups]);
            }
            for (; t < n; t += groups) a0 += p[t] * VALUE(slots[t]);
            acc += (a0 + a1) + (a2 + a3);
#undef VALUE
        }
        __syncthreads();
    }
    if (accumulates && wide) {
#pragma unroll
        for (int i = 0; i < 8; i++) part[g * headDim + d * 8 + i] = wacc[i];
    } else if (accumulates) part[g * headDim + d] = acc;
    __syncthreads();
    if (tid < headDim) {
        float sum = 0.f;
        for (int j = 0; j < groups; j++) sum += part[j * headDim + tid];
        st(out, ((long long)row * heads + head) * headDim + tid, sum / runSum);
    }
}

extern "C" __global__ void gather_rows(const act_t* src, act_t* dst, int cols, const int* rows) {
    PDL_START();
    long long from = (long long)rows[blockIdx.x] * cols, to = (long long)blockIdx.x * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[to + c] = src[from + c];
}

// dst[rows[i]] += scales[i] * src[i], rows in order (a row may repeat), columns split over threads.
extern "C" __global__ void scale_add_rows(const act_t* src, act_t* dst, int cols, const int* rows, const float* scales, int count) {
    PDL_START();
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int i = 0; i < count; i++) {
        long long t = (long long)rows[i] * cols + c;
        st(dst, t, ld(dst, t) + scales[i] * ld(src, (long long)i * cols + c));
    }
}

// FP8 E4M3 weight codes (see Fp8KernelSource), widened exactly: four codes of a word as two f16 pairs (e4m3_lo/hi give
// their floats; measured on an H200, the conversion instruction beat integer bit placement by 20-30%), or as two
// bf16 pairs (codes 0, 1 in .x, code 0 in the low half).
#if __CUDA_ARCH__ >= 890
__device__ __forceinline__ uint2 e4m3x4_to_f16x4(u32 w) {
    uint2 r;
    asm("{ .reg .b16 lo, hi; mov.b32 {lo, hi}, %2; cvt.rn.f16x2.e4m3x2 %0, lo; cvt.rn.f16x2.e4m3x2 %1, hi; }" : "=r"(r.x), "=r"(r.y) : "r"(w));
    return r;
}
__device__ __forceinline__ float e4m3_lo(u32 h2) { return h2f((u16)(h2 & 0xffffu)); }
__device__ __forceinline__ float e4m3_hi(u32 h2) { return h2f((u16)(h2 >> 16)); }
#else
// Before sm_89: the code's exponent and mantissa bits placed in a float's give value * 2^-120 (a subnormal for
// exponent 0: exact, as these kernels keep denormals).
__device__ __forceinline__ float e4m3_f(u32 c) { return __uint_as_float(((c & 0x7fu) << 20) | ((c & 0x80u) << 24)) * 0x1p120f; }
__device__ __forceinline__ uint2 e4m3x4_to_f16x4(u32 w) { uint2 r; r.x = w & 0xffffu; r.y = w >> 16; return r; }
__device__ __forceinline__ float e4m3_lo(u32 h2) { return e4m3_f(h2 & 0xffu); }
__device__ __forceinline__ float e4m3_hi(u32 h2) { return e4m3_f((h2 >> 8) & 0xffu); }
#endif
// Packs two floats as bf16x2, lo in the low half.
__device__ __forceinline__ u32 bf16x2(float lo, float hi) {
#if __CUDA_ARCH__ >= 800
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#else
    return (u32)f2bf(lo) | (u32)f2bf(hi) << 16;
#endif
}
__device__ __forceinline__ uint2 e4m3x4_to_bf16x4(u32 w) {
    uint2 h = e4m3x4_to_f16x4(w), r;
    r.x = bf16x2(e4m3_lo(h.x), e4m3_hi(h.x));
    r.y = bf16x2(e4m3_lo(h.y), e4m3_hi(h.y));
    return r;
}
// y = x W^T for one row of x and bf16 weights, float accumulation, 16-byte loads (inFeatures % 8 == 0). Each block
// first stages x in shared memory as bf16: a copy of bf16 activations, or with `norm`, RmsNorm of the float32 row
// (the residual stream) with weight normW, computed as rms_norm computes it. The outputs of up to three matrices
// that share x (q, k, v) are numbered one after the other: output o < e1 is row o of w0 into y0, o < e2 row
// o - e1 of w1 into y1, else row o - e2 of w2 into y2, each plus its bias when given. gemv_gated: output o reads
// row o of w0 (gate) and of w1 (up) and writes silu(gate) * up into y0. With `residual`, y0 is the float32
// residual stream and gets the float32 output added.
// Persistent warps: warp w of W takes outputs w, w + W, ... (gemv_split: two warps an output, each over half the
// inputs, for rows of 4096 inputs and more), so x is staged once per block and no block waits on another. Every lane keeps GEMV_BATCH 16-byte weight loads in flight (streamed past L1); the first
// output's are issued before x is staged (and before the previous kernel has finished, see PDL_WAIT) and the
// next output's before this one's sums are reduced.
// packed = floatOut << 16 | residual << 17 | norm << 18.
#define GEMV_BATCH 8
__device__ __forceinline__ float dot8(uint4 a, uint4 b) {
    return __uint_as_float(a.x << 16) * __uint_as_float(b.x << 16) + __uint_as_float(a.x & 0xffff0000u) * __uint_as_float(b.x & 0xffff0000u)
         + __uint_as_float(a.y << 16) * __uint_as_float(b.y << 16) + __uint_as_float(a.y & 0xffff0000u) * __uint_as_float(b.y & 0xffff0000u)
         + __uint_as_float(a.z << 16) * __uint_as_float(b.z << 16) + __uint_as_float(a.z & 0xffff0000u) * __uint_as_float(b.z & 0xffff0000u)
         + __uint_as_float(a.w << 16) * __uint_as_float(b.w << 16) + __uint_as_float(a.w & 0xffff0000u) * __uint_as_float(b.w & 0xffff0000u);
}
// 16 E4M3 codes times 16 bf16 (xa: the first 8, xb: the next 8).
__device__ __forceinline__ float dot4_e4m3(u32 codes, u32 x01, u32 x23) {
    uint2 h = e4m3x4_to_f16x4(codes);
    return e4m3_lo(h.x) * __uint_as_float(x01 << 16) + e4m3_hi(h.x) * __uint_as_float(x01 & 0xffff0000u)
         + e4m3_lo(h.y) * __uint_as_float(x23 << 16) + e4m3_hi(h.y) * __uint_as_float(x23 & 0xffff0000u);
}
__device__ __forceinline__ float dot16_e4m3(uint4 w, uint4 xa, uint4 xb) {
    return dot4_e4m3(w.x, xa.x, xa.y) + dot4_e4m3(w.y, xa.z, xa.w) + dot4_e4m3(w.z, xb.x, xb.y) + dot4_e4m3(w.w, xb.z, xb.w);
}
__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
    uint4 v;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
template <bool GATED>
__device__ __forceinline__ void gemv_load(uint4* wa, uint4* wb, const uint4* wr, const uint4* ur, int c0, int chunks) {
#pragma unroll
    for (int u = 0; u < GEMV_BATCH; u++) {
        int c = c0 + 32 * u;
        if (c < chunks) { wa[u] = ld_stream(wr + c); if (GATED) wb[u] = ld_stream(ur + c); }
    }
}
__device__ __forceinline__ float sq4(float4 a) { return a.x * a.x + a.y * a.y + a.z * a.z + a.w * a.w; }
__device__ __forceinline__ uint2 norm4(float4 a, uint2 w, float inv) {
    uint2 o;
    o.x = (u32)f2bf(a.x * inv * __uint_as_float(w.x << 16)) | (u32)f2bf(a.y * inv * __uint_as_float(w.x & 0xffff0000u)) << 16;
    o.y = (u32)f2bf(a.z * inv * __uint_as_float(w.y << 16)) | (u32)f2bf(a.w * inv * __uint_as_float(w.y & 0xffff0000u)) << 16;
    return o;
}
// x into shared memory, each thread's loads of a pass issued together: a pass costs one trip to L2.
__device__ __forceinline__ void gemv_stage(const void* x, const u16* normW, float eps, int inFeatures, int norm, uint4* xs, float* scratch) {
    const int tid = threadIdx.x, n = blockDim.x;
    if (!norm) {
        const uint4* x8 = (const uint4*)x;
        const int chunks = inFeatures >> 3;
        for (int i = tid; i < chunks; i += 4 * n) {
            uint4 v[4];
#pragma unroll
            for (int u = 0; u < 4; u++) if (i + u * n < chunks) v[u] = x8[i + u * n];
#pragma unroll
            for (int u = 0; u < 4; u++) if (i + u * n < chunks) xs[i + u * n] = v[u];
        }
        return;
    }
    const float4* x4 = (const float4*)x;
    const uint2* w4 = (const uint2*)normW;
    uint2* out = (uint2*)xs;
    const int pieces = inFeatures >> 2;
    const float4 zero = {0.f, 0.f, 0.f, 0.f};
    float ss = 0.f;
    for (int i = tid; i < pieces; i += 2 * n) {
        float4 a = x4[i], b = i + n < pieces ? x4[i + n] : zero;
        ss += sq4(a) + sq4(b);
    }
    float inv = rsqrtf(block_reduce(ss, scratch, false) / inFeatures + eps);
    for (int i = tid; i < pieces; i += 2 * n) {
        bool second = i + n < pieces;
        float4 a = x4[i], b = second ? x4[i + n] : zero;
        const uint2 none = {0u, 0u};
        uint2 wa = w4[i], wb = second ? w4[i + n] : none;
        out[i] = norm4(a, wa, inv);
        if (second) out[i + n] = norm4(b, wb, inv);
    }
}
template <bool GATED, int SPLIT, bool FP8>
__device__ __forceinline__ void gemv_body(const void* x, const u16* normW, float eps, const void* w0, const void* w1, const void* w2,
    const float* s0, const float* s1, const float* s2,
    void* y0, void* y1, void* y2, const u16* b0, const u16* b1, const u16* b2, int e1, int e2, int total, int inFeatures, int packed) {
    const int floatOut = (packed >> 16) & 1, residual = (packed >> 17) & 1, norm = (packed >> 18) & 1;
    extern __shared__ uint4 xs[];
    __shared__ float scratch[33];
    __shared__ float partial[8];
    // SPLIT warps share an output, each over its part of the inputs, so that long rows have more loads in flight.
    // A chunk is one 16-byte load of weights: 8 bf16 or 16 FP8 codes.
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, part = warp % SPLIT, chunks = inFeatures >> (FP8 ? 4 : 3);
    const int perBlock = (blockDim.x >> 5) / SPLIT, stride = gridDim.x * perBlock;
    const int begin = chunks * part / SPLIT, end = chunks * (part + 1) / SPLIT;
    int out = blockIdx.x * perBlock + warp / SPLIT;
    const uint4* wr = 0;
    const uint4* ur = 0;
    uint4 wa[GEMV_BATCH], wb[GEMV_BATCH];
#define GEMV_ROW(o) { \
        const unsigned char* w = (const unsigned char*)(GATED || (o) < e1 ? w0 : (o) < e2 ? w1 : w2); \
        int local = GATED || (o) < e1 ? (o) : (o) < e2 ? (o) - e1 : (o) - e2; \
        wr = (const uint4*)(w + (long long)local * inFeatures * (FP8 ? 1 : 2)); \
        if (GATED) ur = (const uint4*)((const unsigned char*)w1 + (long long)local * inFeatures * (FP8 ? 1 : 2)); }
    PDL_TRIGGER();
    if (out < total) { GEMV_ROW(out); gemv_load<GATED>(wa, wb, wr, ur, begin + lane, end); }
    PDL_WAIT();
    gemv_stage(x, normW, eps, inFeatures, norm, xs, scratch);
    __syncthreads();
    // Rounds are the same for every warp of a block (the split's partial sums meet in shared memory).
    for (int first = blockIdx.x * perBlock; first < total; first += stride) {
        bool active = out < total;
        float acc = 0.f, acc2 = 0.f;
        for (int c0 = begin + lane; active;) {
#pragma unroll
            for (int u = 0; u < GEMV_BATCH; u++) {
                int c = c0 + 32 * u;
                if (c < end) {
                    if (FP8) {
                        uint4 xa = xs[2 * c], xb = xs[2 * c + 1];
                        acc += dot16_e4m3(wa[u], xa, xb);
                        if (GATED) acc2 += dot16_e4m3(wb[u], xa, xb);
                    } else {
                        uint4 xv = xs[c];
                        acc += dot8(wa[u], xv);
                        if (GATED) acc2 += dot8(wb[u], xv);
                    }
                }
            }
            c0 += 32 * GEMV_BATCH;
            if (c0 >= end) break;
            gemv_load<GATED>(wa, wb, wr, ur, c0, end);
        }
        int index = out;
        out += stride;
        if (out < total) { GEMV_ROW(out); gemv_load<GATED>(wa, wb, wr, ur, begin + lane, end); }
        float sum = warp_sum(acc);
        float sum2 = GATED ? warp_sum(acc2) : 0.f;
        if (SPLIT > 1) {
            if (lane == 0) partial[warp] = sum;
            __syncthreads();
            if (part == 0) for (int k = 1; k < SPLIT; k++) sum += partial[warp + k];
            __syncthreads();
        }
        if (active && part == 0 && lane == 0) {
            void* y; const u16* b; int local;
            const float* s;
            if (GATED) { y = y0; b = 0; local = index; if (FP8) { sum *= s0[index]; sum2 *= s1[index]; } sum = sum / (1.f + __expf(-sum)) * sum2; s = 0; }
            else if (index < e1) { y = y0; b = b0; local = index; s = s0; }
            else if (index < e2) { y = y1; b = b1; local = index - e1; s = s1; }
            else { y = y2; b = b2; local = index - e2; s = s2; }
            if (FP8 && !GATED) sum *= s[local];
            if (b) sum += bf2f(b[local]);
            if (residual) ((float*)y)[local] += sum;
            else if (floatOut) ((float*)y)[local] = sum;
            else ((u16*)y)[local] = f2bf(sum);
        }
    }
#undef GEMV_ROW
}
// The _fp8 forms read E4M3 codes (16 a chunk) and multiply each output's sum by its row's scale (s0, s1, s2: the
// matrices' scales; gated: the gate's and the up projection's).
#define GEMV_PARAMS const void* x, const u16* normW, float eps, const void* w0, const void* w1, const void* w2, \
    const float* s0, const float* s1, const float* s2, void* y0, void* y1, void* y2, \
    const u16* b0, const u16* b1, const u16* b2, int e1, int e2, int total, int inFeatures, int packed
#define GEMV_ARGS x, normW, eps, w0, w1, w2, s0, s1, s2, y0, y1, y2, b0, b1, b2, e1, e2, total, inFeatures, packed
extern "C" __global__ void __launch_bounds__(256) gemv(GEMV_PARAMS) { gemv_body<false, 1, false>(GEMV_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemv_gated(GEMV_PARAMS) { gemv_body<true, 1, false>(GEMV_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemv_split(GEMV_PARAMS) { gemv_body<false, 2, false>(GEMV_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemv_fp8(GEMV_PARAMS) { gemv_body<false, 1, true>(GEMV_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemv_fp8_gated(GEMV_PARAMS) { gemv_body<true, 1, true>(GEMV_ARGS); }
extern "C" __global__ void __launch_bounds__(256) gemv_fp8_split(GEMV_PARAMS) { gemv_body<false, 2, true>(GEMV_ARGS); }

// The k largest float32 logits of each row (value descending, lower id first on ties, NaN never) and the row's
// log-sum-exp, in two kernels. top_k_part: block (part, row) takes the row's ids [part * span, (part + 1) * span),
// span = TOPK_ITEMS per thread, holds them in registers and writes its k best in order, its largest value and the
// sum of exp(v - largest) to the scratch; each round takes the best of the values that rank after the previous
// pick. top_k_merge: one block a row, a thread per part's sorted list, picks the best of the lists' heads k times
// (the winner's list moves on) and combines the parts' sums. Row r's ids lie in `segments` blocks of
// [rows, segLen] (the rank-major layout of a tensor-parallel all-gather).
// out: ids [rows, k] as int, then values [rows, k], then lse [rows].
__device__ __forceinline__ bool ranks_before(float v, int i, float bv, int bi) {
    return bi < 0 || v > bv || (v == bv && i < bi);
}
__device__ __forceinline__ bool ranks_after(float v, int i, float pv, int pi) {
    return pi < 0 || v < pv || (v == pv && i > pi);
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
__device__ __forceinline__ float logit_at(const float* logits, int rows, int segLen, int row, int id) {
    int s = id / segLen;
    return logits[((long long)s * rows + row) * segLen + (id - s * segLen)];
}
extern "C" __global__ void top_k_part(const float* logits, int rows, int segLen, int segments, int k, int span,
    int* candIds, float* candValues, float* partMax, float* partSum) {
    PDL_START();
    __shared__ float sv[33];
    __shared__ int si[33];
    __shared__ float scratch[33];
    int part = blockIdx.x, row = blockIdx.y, rounds = k > 0 ? k : 1;
    int from = part * span, to = min(segLen * segments, from + span);
    long long slot = (long long)row * gridDim.x + part;
    float v[TOPK_ITEMS];
    bool valid[TOPK_ITEMS];
#pragma unroll
    for (int j = 0; j < TOPK_ITEMS; j++) {
        int id = from + threadIdx.x + j * blockDim.x;
        v[j] = id < to ? logit_at(logits, rows, segLen, row, id) : NEG_INF;
        valid[j] = id < to && v[j] == v[j];
    }
    float pv = 0.f; int pi = -1;
    for (int round = 0; round < rounds; round++) {
        float bv = NEG_INF; int bi = -1;
#pragma unroll
        for (int j = 0; j < TOPK_ITEMS; j++) {
            int id = from + threadIdx.x + j * blockDim.x;
            if (valid[j] && ranks_after(v[j], id, pv, pi) && ranks_before(v[j], id, bv, bi)) { bv = v[j]; bi = id; }
        }
        block_best(bv, bi, sv, si);
        if (round == 0) {
            float sum = 0.f;
            if (bi >= 0)
#pragma unroll
                for (int j = 0; j < TOPK_ITEMS; j++) if (valid[j]) sum += expf(v[j] - bv);
            float total = block_reduce(sum, scratch, false);
            if (threadIdx.x == 0) { partMax[slot] = bi >= 0 ? bv : NEG_INF; partSum[slot] = total; }
        }
        if (threadIdx.x == 0) { candIds[slot * rounds + round] = bi; candValues[slot * rounds + round] = bi >= 0 ? bv : NEG_INF; }
        if (bi < 0) {
            for (int j = round + 1; j < rounds && threadIdx.x == 0; j++) { candIds[slot * rounds + j] = -1; candValues[slot * rounds + j] = NEG_INF; }
            break;
        }
        pv = bv; pi = bi;
    }
}
extern "C" __global__ void top_k_merge(int parts, int k, const int* candIds, const float* candValues, const float* partMax, const float* partSum,
    int* outIds, float* outValues, float* outLse) {
    PDL_START();
    __shared__ float sv[33];
    __shared__ int si[33];
    __shared__ float scratch[33];
    int row = blockIdx.x, rounds = k > 0 ? k : 1, p = threadIdx.x;
    const float* maxes = partMax + (long long)row * parts;
    const float* sums = partSum + (long long)row * parts;
    float m = p < parts ? maxes[p] : NEG_INF;
    m = block_reduce(m, scratch, true);
    float s = m > NEG_INF && p < parts && maxes[p] > NEG_INF ? sums[p] * expf(maxes[p] - m) : 0.f;
    float total = block_reduce(s, scratch, false);
    if (threadIdx.x == 0) outLse[row] = m > NEG_INF ? m + logf(total) : NEG_INF;
    // Thread p's list: part p's candidates, best first, -1 after its last.
    const int* ids = candIds + ((long long)row * parts + p) * rounds;
    const float* values = candValues + ((long long)row * parts + p) * rounds;
    int head = 0;
    for (int round = 0; round < k; round++) {
        int hi = p < parts && head < rounds ? ids[head] : -1;
        float hv = hi >= 0 ? values[head] : NEG_INF;
        float bv = hv; int bi = hi;
        block_best(bv, bi, sv, si);
        if (threadIdx.x == 0) { outIds[row * k + round] = bi; outValues[row * k + round] = bi >= 0 ? bv : NEG_INF; }
        if (bi < 0) {
            for (int j = round + 1; j < k && threadIdx.x == 0; j++) { outIds[row * k + j] = -1; outValues[row * k + j] = NEG_INF; }
            break;
        }
        if (hi == bi) head++;
    }
}
""";
}

// quantize_rowwise.cuh: dynamic int8 quantization of an FP activation x [M, K] (K compile-time, M run-time).
// Three ops share one body: per-token (scale[m] = absmax(x[m, :]) / 127, q = rni_sat(x / scale)), and the two
// passes of per-tensor (pass 1 folds each row's absmax into *absmax_bits with an atomic max on the float's bits,
// which order like unsigned integers for non-negative floats; pass 2 applies absmax / 127 to every row).
// Values are widened to f32 first (f64 rounds to nearest); absmax ignores NaN; divisions are IEEE (div.rn), never a
// reciprocal multiply; an all-zero row gets scale 0 and q = 0. A CTA handles kRows rows with kTpr threads each.
// The vector path (16 elements per chunk: 16-byte loads, one 16-byte store of q) is chosen at run time when x, q
// and both row strides allow it; otherwise a scalar path handles any K and any alignment.
// kSmooth: every element is first multiplied by pre_quant_scale[k] (SmoothQuant's per-channel migration applied to
// the activation: 1/s, so v = RN(x * (1/s)), one mul.rn), and v is what the absmax and the quantization see.

namespace qjitk {

enum QuantizeOp { kQuantizeRowwise = 0, kQuantizeAbsmax = 1, kQuantizeApplyScale = 2 };

// One chunk (16 consecutive elements) as loaded: 16 * sizeof(InT) bytes in 16-byte words. A cached 16-bit row kept
// this way needs half the registers of the widened floats.
template <class InT>
struct RawChunk {
  V4 w[sizeof(InT)];
};
template <class InT>
__device__ __forceinline__ void load_chunk(const void* p, RawChunk<InT>& r) {
#pragma unroll
  for (int i = 0; i < (int)sizeof(InT); ++i) r.w[i] = ld_global_v4((const u8*)p + 16 * i);
}
// The same chunk from a row start that is only element-aligned: o = (address & 15) != 0 (one value for a whole row:
// a chunk is a multiple of 16 bytes). sizeof(InT) + 1 aligned 16-byte reads from p - o, realigned in registers (a
// word select on o / 4, then prmt on o % 4), so a row of odd length (contiguous rows of K % 8 != 0) still takes the
// vector path. Every read holds at least one byte of the chunk, so none touches a page the chunk does not.
template <class InT>
__device__ __forceinline__ void load_chunk_realigned(const u8* p, int o, RawChunk<InT>& r) {
  constexpr int kW = 4 * (int)sizeof(InT);  // words of the chunk
  const u8* base = p - o;
  u32 w[kW + 4];
#pragma unroll
  for (int i = 0; i <= (int)sizeof(InT); ++i) {
    const V4 v = ld_global_v4(base + 16 * i);
    w[4 * i] = v.x;
    w[4 * i + 1] = v.y;
    w[4 * i + 2] = v.z;
    w[4 * i + 3] = v.w;
  }
  // NOTE: selects on the word offset keep w in registers (a run-time index would put it in local memory).
  const int q = o >> 2;
  u32 s[kW + 1];
#pragma unroll
  for (int i = 0; i <= kW; ++i) {
    s[i] = q == 0 ? w[i] : q == 1 ? w[i + 1] : q == 2 ? w[i + 2] : w[i + 3];
  }
  const u32 sel = 0x3210u + 0x1111u * (u32)(o & 3);  // byte j of word i is byte j + (o & 3) of {s[i+1], s[i]}
#pragma unroll
  for (int i = 0; i < (int)sizeof(InT); ++i) {
    r.w[i].x = prmt_u32(s[4 * i], s[4 * i + 1], sel);
    r.w[i].y = prmt_u32(s[4 * i + 1], s[4 * i + 2], sel);
    r.w[i].z = prmt_u32(s[4 * i + 2], s[4 * i + 3], sel);
    r.w[i].w = prmt_u32(s[4 * i + 3], s[4 * i + 4], sel);
  }
}
// A chunk of a row whose start is o bytes past a 16-byte boundary (o = 0: the aligned reads).
template <class InT>
__device__ __forceinline__ void load_row_chunk(const u8* p, int o, RawChunk<InT>& r) {
  if (o == 0)
    load_chunk<InT>(p, r);
  else
    load_chunk_realigned<InT>(p, o, r);
}

// A raw chunk widened to f32.
template <class InT>
struct ChunkWiden;
template <>
struct ChunkWiden<f16> {
  static __device__ __forceinline__ void apply(const RawChunk<f16>& r, float (&v)[16]) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const u32 u[4] = {r.w[i].x, r.w[i].y, r.w[i].z, r.w[i].w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        f16 lo, hi;
        lo.bits = (u16)(u[j] & 0xffffu);
        hi.bits = (u16)(u[j] >> 16);
        v[8 * i + 2 * j] = to_f32(lo);
        v[8 * i + 2 * j + 1] = to_f32(hi);
      }
    }
  }
};
template <>
struct ChunkWiden<bf16> {
  static __device__ __forceinline__ void apply(const RawChunk<bf16>& r, float (&v)[16]) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const u32 u[4] = {r.w[i].x, r.w[i].y, r.w[i].z, r.w[i].w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        v[8 * i + 2 * j] = bits_to_f32(u[j] << 16);
        v[8 * i + 2 * j + 1] = bits_to_f32(u[j] & 0xffff0000u);
      }
    }
  }
};
template <>
struct ChunkWiden<float> {
  static __device__ __forceinline__ void apply(const RawChunk<float>& r, float (&v)[16]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      v[4 * i] = bits_to_f32(r.w[i].x);
      v[4 * i + 1] = bits_to_f32(r.w[i].y);
      v[4 * i + 2] = bits_to_f32(r.w[i].z);
      v[4 * i + 3] = bits_to_f32(r.w[i].w);
    }
  }
};
template <>
struct ChunkWiden<double> {
  static __device__ __forceinline__ void apply(const RawChunk<double>& r, float (&v)[16]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      double d0, d1;
      asm("mov.b64 %0, {%1, %2};" : "=d"(d0) : "r"(r.w[i].x), "r"(r.w[i].y));
      asm("mov.b64 %0, {%1, %2};" : "=d"(d1) : "r"(r.w[i].z), "r"(r.w[i].w));
      v[2 * i] = to_f32(d0);
      v[2 * i + 1] = to_f32(d1);
    }
  }
};

// 16 consecutive elements from 16-byte aligned memory, widened to f32.
template <class InT>
struct ChunkLoad {
  static __device__ __forceinline__ void apply(const void* p, float (&v)[16]) {
    RawChunk<InT> r;
    load_chunk<InT>(p, r);
    ChunkWiden<InT>::apply(r, v);
  }
};

// v[j] *= pre_quant_scale[j] for one chunk (16-byte aligned) when kSmooth.
template <bool kSmooth>
struct SmoothChunk {
  static __device__ __forceinline__ void apply(float (&)[16], const float*) {}
};
template <>
struct SmoothChunk<true> {
  static __device__ __forceinline__ void apply(float (&v)[16], const float* smooth) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const V4 w = ld_global_v4((const u8*)smooth + 16 * i);
      v[4 * i] = mul_rn(v[4 * i], bits_to_f32(w.x));
      v[4 * i + 1] = mul_rn(v[4 * i + 1], bits_to_f32(w.y));
      v[4 * i + 2] = mul_rn(v[4 * i + 2], bits_to_f32(w.z));
      v[4 * i + 3] = mul_rn(v[4 * i + 3], bits_to_f32(w.w));
    }
  }
};

__device__ __forceinline__ i32 quantize_one(float x, float scale) {
  return scale == 0.0f ? 0 : f32_to_s8_sat(div_rn(x, scale));
}

// Fast exact quantization of one row: q = rni(RN(x / scale)) without a division per element. With inv = RN(1/scale)
// (rcp.rn, once per row), q0 = RN(x * inv) is within one ulp of x / scale, the residual x - scale * q0 is exact in
// one fma, and RN(q0 + residual * inv) is the correctly rounded quotient (Markstein's theorem): bit-identical to
// div.rn. NOTE: it holds while nothing under- or overflows; scale in [2^-64, 2^64] keeps every intermediate normal
// for the |x / scale| >= 1/4 that can round away from 0 (smaller quotients give 0 either way), and every other row
// (scale 0, subnormal, huge, inf) takes quantize_one. |x| <= amax bounds the quotient by 127 * (1 + 2^-24), so
// no saturation is needed; NaN elements become 0 like cvt.rni.sat.
struct RowQuant {
  float scale, inv;
  bool fast;
};
__device__ __forceinline__ RowQuant row_quant(float scale) {
  RowQuant r;
  r.scale = scale;
  r.fast = scale >= 0x1p-64f && scale <= 0x1p64f;
  asm("rcp.rn.f32 %0, %1;" : "=f"(r.inv) : "f"(r.fast ? scale : 1.0f));
  return r;
}
// The quotient, rounded to the nearest integer (ties to even), as the low byte of the returned word.
__device__ __forceinline__ u32 quantize_fast_byte(float x, const RowQuant& r) {
  float q0, rem, q;
  asm("mul.rn.f32 %0, %1, %2;" : "=f"(q0) : "f"(x), "f"(r.inv));
  asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(rem) : "f"(-r.scale), "f"(q0), "f"(x));
  asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(q) : "f"(rem), "f"(r.inv), "f"(q0));
  q = q == q ? q : 0.0f;  // NaN -> 0
  // NOTE: adding 1.5 * 2^23 rounds |q| <= 2^22 to an integer half-to-even (the default rounding of add.rn) and
  // leaves it, two's complement, in the low mantissa bits: the low byte is the int8.
  float t;
  asm("add.rn.f32 %0, %1, 0f4B400000;" : "=f"(t) : "f"(q));
  return f32_to_bits(t);
}
// Packs the low bytes of four words into one (byte j from w[j]).
__device__ __forceinline__ u32 pack_low_bytes(u32 a, u32 b, u32 c, u32 d) {
  u32 ab, cd, r;
  asm("prmt.b32 %0, %1, %2, 0x0040;" : "=r"(ab) : "r"(a), "r"(b));
  asm("prmt.b32 %0, %1, %2, 0x0040;" : "=r"(cd) : "r"(c), "r"(d));
  asm("prmt.b32 %0, %1, %2, 0x5410;" : "=r"(r) : "r"(ab), "r"(cd));
  return r;
}

template <class InT, int kK, int kRows, int kTpr, int kOp, bool kSmooth = false>
struct QuantizeRowwise {
  static constexpr int kThreads = kRows * kTpr;
  static constexpr int kChunks = kK / 16;                            // whole 16-element chunks per row
  static constexpr int kChunksPerThread = kChunks > 0 ? (kChunks + kTpr - 1) / kTpr : 1;
  // The plain pass of a 16-bit input keeps its row between the two passes as loaded (RawChunk: half the registers
  // of widened floats), up to 8 chunks a thread, and widens it again for the second; otherwise up to 4 chunks a
  // thread are kept as floats. Measured on the H200 (docs/PERF.md, session 6): the plain pass 7-15% faster at
  // K = 11008..28672, no change at K = 4096. The smoothed pass keeps floats: widening and smoothing again (even with
  // the vector in shared memory) made it slower.
  static constexpr bool kRaw = !kSmooth && sizeof(InT) == 2 && kChunksPerThread <= 8;
  static constexpr bool kCache = kRaw || kChunksPerThread <= 4;     // keep the row in registers between passes
  static constexpr int kWarpsPerRow = kTpr > 32 ? kTpr / 32 : 1;

  static_assert(kTpr == 1 || kTpr == 2 || kTpr == 4 || kTpr == 8 || kTpr == 16 || kTpr % 32 == 0,
                "threads per row: a power of two up to 32, or a multiple of 32");
  static_assert(kThreads >= 32 && kThreads <= 1024 && kThreads % 32 == 0, "CTA size must be 32..1024, whole warps");
  static_assert(kK >= 1, "K must be positive");

  // Max over the kTpr threads of one row; every thread of the CTA must call it (it may use a barrier).
  static __device__ __forceinline__ float row_max(float v, float* red) {
    constexpr int kFirst = kTpr >= 32 ? 16 : kTpr / 2;
#pragma unroll
    for (int o = kFirst; o > 0; o >>= 1) v = max_f32(v, shfl_xor_f32(v, o));
    if (kTpr > 32) {
      const int tid = (int)threadIdx.x;
      const int row = tid / kTpr;
      const int w = (tid % kTpr) / 32;
      if ((tid & 31) == 0) red[row * kWarpsPerRow + w] = v;
      __syncthreads();
      v = red[row * kWarpsPerRow];
#pragma unroll
      for (int i = 1; i < kWarpsPerRow; ++i) v = max_f32(v, red[row * kWarpsPerRow + i]);
    }
    return v;
  }

  // Element k of a row, widened to f32 (and smoothed).
  static __device__ __forceinline__ float element(const u8* x, int k, const QuantizeParams& p) {
    const float v = to_f32(((const InT*)x)[k]);
    return kSmooth ? mul_rn(v, p.smooth[k]) : v;
  }

  static __device__ __forceinline__ void run(const QuantizeParams& p) {
    __shared__ float red[kRows * kWarpsPerRow];
    const int tid = (int)threadIdx.x;
    const int lt = tid % kTpr;
    const i64 row = (i64)blockIdx.x * kRows + tid / kTpr;
    const bool row_ok = row < (i64)p.m;
    const u8* x = (const u8*)p.x + (row_ok ? row : 0) * p.ldx * (i64)sizeof(InT);
    i8* q = p.q + (row_ok ? row : 0) * p.ldq;
    // NOTE: a 16-element chunk is 16 * sizeof(InT) bytes of x and 16 bytes of q. q's row starts (and smooth) must be
    // 16-aligned; x's need only be element-aligned: a row that starts xo bytes past a 16-byte boundary (contiguous
    // rows of an odd K: QuantizedLinear's activation) is read with realigned vectors (load_chunk_realigned).
    const bool vec = kChunks > 0 && (((u64)p.q | (kSmooth ? (u64)p.smooth : 0)) & 15) == 0 && (p.ldq & 15) == 0 &&
                     ((u64)x % sizeof(InT)) == 0;
    const int xo = (int)((u64)x & 15);
    const int vec_elems = vec ? kChunks * 16 : 0;  // elements the vector path covers; the scalar path does the rest

    float cache[kCache && !kRaw ? kChunksPerThread : 1][16];
    RawChunk<InT> raw[kRaw ? kChunksPerThread : 1];
    float amax = 0.0f;
    if (kOp != kQuantizeApplyScale && row_ok) {
      if (vec) {
#pragma unroll
        for (int i = 0; i < kChunksPerThread; ++i) {
          const int c = lt + i * kTpr;
          if (c < kChunks) {
            float v[16];
            if (kRaw) {
              load_row_chunk<InT>(x + (i64)c * 16 * sizeof(InT), xo, raw[kRaw ? i : 0]);
              ChunkWiden<InT>::apply(raw[kRaw ? i : 0], v);
            } else {
              RawChunk<InT> rc;
              load_row_chunk<InT>(x + (i64)c * 16 * sizeof(InT), xo, rc);
              ChunkWiden<InT>::apply(rc, v);
            }
            SmoothChunk<kSmooth>::apply(v, p.smooth + c * 16);
#pragma unroll
            for (int j = 0; j < 16; ++j) {
              amax = max_f32(amax, abs_f32(v[j]));
              if (kCache && !kRaw) cache[kCache && !kRaw ? i : 0][j] = v[j];
            }
          }
        }
      }
      for (int k = vec_elems + lt; k < kK; k += kTpr) amax = max_f32(amax, abs_f32(element(x, k, p)));
    }

    float scale;
    if (kOp == kQuantizeApplyScale) {
      scale = div_rn(bits_to_f32(ld_global_u32(p.absmax_bits)), 127.0f);
      if (blockIdx.x == 0 && tid == 0) p.scale[0] = scale;
    } else {
      amax = row_max(amax, red);
      if (kOp == kQuantizeAbsmax) {
        if (row_ok && lt == 0) atomic_max_u32_gpu(p.absmax_bits, f32_to_bits(amax));
        return;
      }
      scale = div_rn(amax, 127.0f);
      if (row_ok && lt == 0) p.scale[row] = scale;
    }
    if (!row_ok) return;

    const RowQuant rq = row_quant(scale);
    if (vec) {
#pragma unroll
      for (int i = 0; i < kChunksPerThread; ++i) {
        const int c = lt + i * kTpr;
        if (c < kChunks) {
          float v[16];
          if (kRaw && kOp == kQuantizeRowwise) {
            ChunkWiden<InT>::apply(raw[kRaw ? i : 0], v);
          } else if (kCache && kOp == kQuantizeRowwise) {
#pragma unroll
            for (int j = 0; j < 16; ++j) v[j] = cache[kCache && !kRaw ? i : 0][j];
          } else {
            RawChunk<InT> rc;
            load_row_chunk<InT>(x + (i64)c * 16 * sizeof(InT), xo, rc);
            ChunkWiden<InT>::apply(rc, v);
            SmoothChunk<kSmooth>::apply(v, p.smooth + c * 16);
          }
          u32 w[4] = {0u, 0u, 0u, 0u};
          if (rq.fast) {
#pragma unroll
            for (int j = 0; j < 4; ++j)
              w[j] = pack_low_bytes(quantize_fast_byte(v[4 * j], rq), quantize_fast_byte(v[4 * j + 1], rq),
                                    quantize_fast_byte(v[4 * j + 2], rq), quantize_fast_byte(v[4 * j + 3], rq));
          } else {
#pragma unroll
            for (int j = 0; j < 16; ++j) w[j >> 2] |= ((u32)quantize_one(v[j], scale) & 0xffu) << (8 * (j & 3));
          }
          V4 o;
          o.x = w[0];
          o.y = w[1];
          o.z = w[2];
          o.w = w[3];
          st_global_v4(q + c * 16, o);
        }
      }
    }
    for (int k = vec_elems + lt; k < kK; k += kTpr) q[k] = (i8)quantize_one(element(x, k, p), scale);
  }
};

}  // namespace qjitk

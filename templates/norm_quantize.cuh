// norm_quantize.cuh: RMSNorm or LayerNorm fused with dynamic per-token (or static per-tensor) int8 quantization of
// x [M, K] (K compile-time, M run-time), optionally after adding a residual (vLLM's fused_add_rms_norm: h = x + r,
// rounded to the input type, written back, then normalised). It is pasted after common.cuh, quantize_rowwise.cuh
// and norm_quantize_params.h, and quantizes through quantize_rowwise.cuh's own functions (row_quant,
// quantize_fast_byte, quantize_one, pack_low_bytes, the cached-row RawChunk), so q and scale are bit for bit what
// DynamicRangeQuantizePlan gives for the same f32 values v.
//
// Arithmetic, all f32, each operation rounded to nearest even on its own (no FMA contraction):
//   RMSNorm:   S = sum(h^2);  rstd = 1 / sqrt(S / K + eps);            v = (h * rstd) * gamma
//   LayerNorm: mu = sum(h) / K;  d = h - mu;  S = sum(d^2);  rstd = 1 / sqrt(S / K + eps);  v = (d * rstd) * gamma + beta
// (sqrt.rn and div.rn: IEEE, no approximate rsqrt). Every sum is the same tree whatever the CTA shape or the path
// (16-byte vectors or scalars): the perfect binary tree over the element index k, zero-padded to a power of two,
// adding neighbours first ((h0 + h1) + (h2 + h3)) + ...; -0.0 pads (the exact identity of round-to-nearest addition).
// A thread holds 16-element chunks c = lt + i * kTpr: it sums inside each chunk (4 levels), the lanes then combine
// the chunk sums of equal i with butterflies of increasing distance (kTpr is a power of two, so lane bits are the low
// bits of c), warps combine through shared memory, and last each thread sums over i. So the tuner's candidates agree
// bit for bit and a CPU model of the tree reproduces the kernel exactly.
// NOTE: a row whose sum of squares overflows f32 gets rstd = 0 (v = 0, or NaN for infinite h): as PyTorch in f32.
namespace qjitk {

enum NormKind { kRmsNorm = 0, kLayerNorm = 1 };

__device__ __forceinline__ float sqrt_rn_f32(float a) {
  float r;
  asm("sqrt.rn.f32 %0, %1;" : "=f"(r) : "f"(a));
  return r;
}
// A 16-byte load through the coherent path: with a residual, x and residual may alias residual_out, which this
// kernel writes, so the read-only (.nc) path must not serve them.
__device__ __forceinline__ V4 ld_global_v4_rw(const void* p) {
  V4 v;
  asm volatile("ld.global.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p)
               : "memory");
  return v;
}
__device__ __forceinline__ u32 v4_get(const V4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }
__device__ __forceinline__ void v4_set(V4& v, int i, u32 b) {
  if (i == 0)
    v.x = b;
  else if (i == 1)
    v.y = b;
  else if (i == 2)
    v.z = b;
  else
    v.w = b;
}

// Element j of a raw chunk as bits, and the other way (16-bit types: two a word; f32: one).
template <class InT>
struct RawElem {
  static __device__ __forceinline__ u32 get(const RawChunk<InT>& r, int j) {
    const u32 w = v4_get(r.w[j / 8], (j % 8) / 2);
    return (j & 1) ? w >> 16 : w & 0xffffu;
  }
  static __device__ __forceinline__ void set(RawChunk<InT>& r, int j, u32 b) {
    const u32 w = v4_get(r.w[j / 8], (j % 8) / 2);
    v4_set(r.w[j / 8], (j % 8) / 2, (j & 1) ? (w & 0xffffu) | (b << 16) : (w & 0xffff0000u) | (b & 0xffffu));
  }
  static __device__ __forceinline__ u32 load(const u8* row, int k) { return ((const u16*)row)[k]; }
  static __device__ __forceinline__ void store(u8* row, int k, u32 b) { ((u16*)row)[k] = (u16)b; }
};
template <>
struct RawElem<float> {
  static __device__ __forceinline__ u32 get(const RawChunk<float>& r, int j) { return v4_get(r.w[j / 4], j % 4); }
  static __device__ __forceinline__ void set(RawChunk<float>& r, int j, u32 b) { v4_set(r.w[j / 4], j % 4, b); }
  static __device__ __forceinline__ u32 load(const u8* row, int k) { return ((const u32*)row)[k]; }
  static __device__ __forceinline__ void store(u8* row, int k, u32 b) { ((u32*)row)[k] = b; }
};

template <class InT>
__device__ __forceinline__ void clear_chunk(RawChunk<InT>& r) {
#pragma unroll
  for (int i = 0; i < (int)sizeof(InT); ++i) r.w[i].x = r.w[i].y = r.w[i].z = r.w[i].w = 0u;
}

// f32 -> the input type's bits, rounded to nearest even (FromF32).
__device__ __forceinline__ u32 narrow_bits(float v, f16*) { return FromF32<f16>::apply(v).bits; }
__device__ __forceinline__ u32 narrow_bits(float v, bf16*) { return FromF32<bf16>::apply(v).bits; }
__device__ __forceinline__ u32 narrow_bits(float v, float*) { return f32_to_bits(v); }

// Sum of a chunk's 16 values: the 4 lowest levels of the tree (neighbours first). Overwrites v.
__device__ __forceinline__ float chunk_tree_sum(float (&v)[16]) {
#pragma unroll
  for (int s = 1; s < 16; s *= 2)
#pragma unroll
    for (int j = 0; j + s < 16; j += 2 * s) v[j] = add_rn(v[j], v[j + s]);
  return v[0];
}

template <class InT, int kK, int kRows, int kTpr, int kNorm, bool kResidual, bool kStatic>
struct NormQuantizeRowwise {
  static constexpr int kThreads = kRows * kTpr;
  static constexpr int kFull = kK / 16;                     // whole chunks
  static constexpr int kChunks = (kK + 15) / 16;            // with the partial last one
  static constexpr int kTail = kK % 16;                     // valid elements of the partial chunk (0: none)
  static constexpr int kCpt = (kChunks + kTpr - 1) / kTpr;  // chunks a thread
  static constexpr int kP = kCpt <= 1    ? 1
                            : kCpt <= 2  ? 2
                            : kCpt <= 4  ? 4
                            : kCpt <= 8  ? 8
                            : kCpt <= 16 ? 16
                            : kCpt <= 32 ? 32
                                         : 64;  // kCpt rounded up to a power of two
  // The row stays in registers as loaded (as quantize_rowwise's plain pass keeps it): 64 registers at most.
  static constexpr bool kCache = kCpt * (int)sizeof(InT) <= 16;
  // Loops over a thread's chunks unroll fully when the row is kept (its chunks and sums stay in registers); a row
  // read again from memory (long K on few threads: only tuning candidates) keeps the loops rolled, which keeps the
  // compile short at the price of the chunk sums in local memory.
  static constexpr int kUnroll = kCache ? kCpt : 1;
  // The normalised values of the absmax pass stay in registers for the quantize pass when a thread holds at most
  // four chunks (64 floats): the quantize pass then does no second gamma/beta load nor normalisation. At three or
  // four chunks that costs registers (ptxas sm_90a: 97 -> 100-127) yet measured faster on the H200 (LayerNorm
  // K = 14336, M = 8192: 226 -> 183 us; RMSNorm + residual 219 -> 215; RMSNorm alone level); more than four chunks
  // (long rows on few threads) recompute v. Same operations on the same values either way: same bits.
  static constexpr bool kKeepV = !kStatic && kCache && kCpt <= 4;
  static constexpr int kWarps = kTpr > 32 ? kTpr / 32 : 1;                       // warps per row
  static constexpr int kLanes = kTpr < 32 ? kTpr : 32;                           // lanes of one row in a warp
  typedef QuantizeRowwise<InT, kK, kRows, kTpr, kQuantizeRowwise, false> Quant;  // its row_max

  static_assert(kTpr >= 1 && kTpr <= 1024 && (kTpr & (kTpr - 1)) == 0,
                "threads per row: a power of two (the reduction tree follows the element index)");
  static_assert(kThreads >= 32 && kThreads <= 1024 && kThreads % 32 == 0, "CTA size must be 32..1024, whole warps");
  static_assert(kCpt <= 64, "at most 64 chunks a thread");
  static_assert(sizeof(InT) == 2 || sizeof(InT) == 4, "input: f16, bf16 or f32");

  struct Row {
    const u8* x;
    const u8* res;
    u8* res_out;
    i8* q;
    bool vec;
  };

  // Chunk c of x (and of the residual) as stored, loads only: a thread issues every chunk's loads before it uses
  // any (pass 1 of a kept row), so its chunks are in flight together rather than one round trip each.
  static __device__ __forceinline__ void load_raw(const Row& r, int c, RawChunk<InT>& a, RawChunk<InT>& b) {
    const bool vec = r.vec && c < kFull;
    const i64 off = (i64)c * 16 * sizeof(InT);
    if (vec) {
#pragma unroll
      for (int i = 0; i < (int)sizeof(InT); ++i) {
        if (kResidual) {
          a.w[i] = ld_global_v4_rw(r.x + off + 16 * i);
          b.w[i] = ld_global_v4_rw(r.res + off + 16 * i);
        } else {
          a.w[i] = ld_global_v4(r.x + off + 16 * i);
        }
      }
    } else {
      clear_chunk<InT>(a);
      if (kResidual) clear_chunk<InT>(b);
#pragma unroll
      for (int j = 0; j < 16; ++j)
        if (16 * c + j < kK) {
          RawElem<InT>::set(a, j, RawElem<InT>::load(r.x, 16 * c + j));
          if (kResidual) RawElem<InT>::set(b, j, RawElem<InT>::load(r.res, 16 * c + j));
        }
    }
  }

  // h = x + residual rounded to the input type (into a), written to residual_out. Without a residual h = x.
  // NOTE: x and residual may alias residual_out: every chunk this thread writes it has read before (load_raw), and
  // no other thread touches its chunks.
  static __device__ __forceinline__ void combine(const Row& r, int c, RawChunk<InT>& a, const RawChunk<InT>& b) {
    if (!kResidual) return;
    const bool vec = r.vec && c < kFull;
    const i64 off = (i64)c * 16 * sizeof(InT);
    float va[16], vb[16];
    ChunkWiden<InT>::apply(a, va);
    ChunkWiden<InT>::apply(b, vb);
#pragma unroll
    for (int j = 0; j < 16; ++j) RawElem<InT>::set(a, j, narrow_bits(add_rn(va[j], vb[j]), (InT*)0));
    if (vec) {
#pragma unroll
      for (int i = 0; i < (int)sizeof(InT); ++i) st_global_v4(r.res_out + off + 16 * i, a.w[i]);
    } else {
#pragma unroll
      for (int j = 0; j < 16; ++j)
        if (16 * c + j < kK) RawElem<InT>::store(r.res_out, 16 * c + j, RawElem<InT>::get(a, j));
    }
  }

  // Chunk c of h as stored in the input type: x, or x + residual (which is also written to residual_out).
  static __device__ __forceinline__ void first_load(const Row& r, int c, RawChunk<InT>& out) {
    RawChunk<InT> b;
    load_raw(r, c, out, b);
    combine(r, c, out, b);
  }

  // Chunk c of h again, for a row not kept in registers: residual_out (written by this thread) or x.
  static __device__ __forceinline__ void reload(const Row& r, int c, RawChunk<InT>& out) {
    const u8* src = kResidual ? r.res_out : r.x;
    const i64 off = (i64)c * 16 * sizeof(InT);
    if (r.vec && c < kFull) {
#pragma unroll
      for (int i = 0; i < (int)sizeof(InT); ++i)
        out.w[i] = kResidual ? ld_global_v4_rw(src + off + 16 * i) : ld_global_v4(src + off + 16 * i);
    } else {
      clear_chunk<InT>(out);
#pragma unroll
      for (int j = 0; j < 16; ++j)
        if (16 * c + j < kK) RawElem<InT>::set(out, j, RawElem<InT>::load(src, 16 * c + j));
    }
  }

  // gamma or beta, chunk c, widened (elements past K read as 0).
  static __device__ __forceinline__ void load_vec(const void* p, bool vec, int c, float (&v)[16]) {
    const u8* base = (const u8*)p;
    if (vec && c < kFull) {
      ChunkLoad<InT>::apply(base + (i64)c * 16 * sizeof(InT), v);
    } else {
      RawChunk<InT> r;
      clear_chunk<InT>(r);
#pragma unroll
      for (int j = 0; j < 16; ++j)
        if (16 * c + j < kK) RawElem<InT>::set(r, j, RawElem<InT>::load(base, 16 * c + j));
      ChunkWiden<InT>::apply(r, v);
    }
  }

  // Elements of the partial last chunk past K become -0.0 (the sums' identity).
  static __device__ __forceinline__ void pad_tail(int c, float (&v)[16]) {
    if (kTail != 0 && c == kFull) {
#pragma unroll
      for (int j = kTail; j < 16; ++j) v[j] = -0.0f;
    }
  }

  // The row's sum from each thread's chunk sums part[i] (chunk c = lt + i * kTpr; -0.0 where c >= kChunks): lanes,
  // then warps, then i, each level neighbours first (see the top of the file). Every thread of the CTA calls it.
  static __device__ __forceinline__ float row_sum(float (&part)[kP], float* red) {
#pragma unroll kUnroll
    for (int i = 0; i < kCpt; ++i)
#pragma unroll
      for (int o = 1; o < kLanes; o *= 2) part[i] = add_rn(part[i], shfl_xor_f32(part[i], o));
    if (kWarps > 1) {
      const int tid = (int)threadIdx.x;
      const int w = (tid % kTpr) / 32;
      float* mine = red + (tid / kTpr) * kCpt * kWarps;
      if ((tid & 31) == 0) {
#pragma unroll kUnroll
        for (int i = 0; i < kCpt; ++i) mine[i * kWarps + w] = part[i];
      }
      __syncthreads();
#pragma unroll kUnroll
      for (int i = 0; i < kCpt; ++i) {
        float t[kWarps];
#pragma unroll
        for (int u = 0; u < kWarps; ++u) t[u] = mine[i * kWarps + u];
#pragma unroll
        for (int s = 1; s < kWarps; s *= 2)
#pragma unroll
          for (int u = 0; u + s < kWarps; u += 2 * s) t[u] = add_rn(t[u], t[u + s]);
        part[i] = t[0];
      }
      __syncthreads();  // red is reused by the next sum
    }
#pragma unroll
    for (int s = 1; s < kP; s *= 2)
#pragma unroll
      for (int i = 0; i + s < kP; i += 2 * s) part[i] = add_rn(part[i], part[i + s]);
    return part[0];
  }

  // v for one chunk of h (widened in hv): (h - mu) * rstd * gamma (+ beta), mu = 0 for RMSNorm.
  static __device__ __forceinline__ void normalize(const NormQuantizeParams& p, bool vec, int c, float neg_mu,
                                                   float rstd, float (&hv)[16]) {
    float g[16];
    load_vec(p.gamma, vec, c, g);
    if (kNorm == kLayerNorm) {
      float b[16];
      load_vec(p.beta, vec, c, b);
#pragma unroll
      for (int j = 0; j < 16; ++j) hv[j] = add_rn(mul_rn(mul_rn(add_rn(hv[j], neg_mu), rstd), g[j]), b[j]);
    } else {
#pragma unroll
      for (int j = 0; j < 16; ++j) hv[j] = mul_rn(mul_rn(hv[j], rstd), g[j]);
    }
  }

  static __device__ __forceinline__ void run(const NormQuantizeParams& p) {
    __shared__ float red_sum[kWarps > 1 ? kRows * kCpt * kWarps : 1];
    __shared__ float red_max[kRows * Quant::kWarpsPerRow];
    const int tid = (int)threadIdx.x;
    const int lt = tid % kTpr;
    const i64 row = (i64)blockIdx.x * kRows + tid / kTpr;
    const bool row_ok = row < (i64)p.m;
    const i64 rr = row_ok ? row : 0;
    Row r;
    r.x = (const u8*)p.x + rr * p.ldx * (i64)sizeof(InT);
    r.res = kResidual ? (const u8*)p.residual + rr * p.ld_residual * (i64)sizeof(InT) : (const u8*)0;
    r.res_out = kResidual ? (u8*)p.residual_out + rr * p.ld_residual_out * (i64)sizeof(InT) : (u8*)0;
    r.q = p.q + rr * p.ldq;
    // NOTE: a chunk is 16 * sizeof(InT) bytes of each FP operand and 16 bytes of q: every row start 16-aligned.
    const u64 ptrs = (u64)p.x | (u64)p.q | (u64)p.gamma | (kNorm == kLayerNorm ? (u64)p.beta : 0) |
                     (kResidual ? ((u64)p.residual | (u64)p.residual_out) : 0);
    const i64 strides =
        p.ldx * (i64)sizeof(InT) | p.ldq | (kResidual ? (p.ld_residual | p.ld_residual_out) * (i64)sizeof(InT) : 0);
    r.vec = kFull > 0 && (ptrs & 15) == 0 && (strides & 15) == 0;
    const bool vec = r.vec;

    RawChunk<InT> cache[kCache ? kCpt : 1];
    float part[kP];
#pragma unroll
    for (int i = 0; i < kP; ++i) part[i] = -0.0f;

    // Pass 1: load h (adding and writing back the residual), sum h^2 (RMSNorm) or h (LayerNorm) per chunk. A kept
    // row is loaded whole first (every chunk's loads in flight at once), then combined and summed.
    if (kCache) {
      RawChunk<InT> rb[kResidual ? kCpt : 1];
#pragma unroll
      for (int i = 0; i < kCpt; ++i) {
        const int c = lt + i * kTpr;
        if (row_ok && c < kChunks) load_raw(r, c, cache[kCache ? i : 0], rb[kResidual ? i : 0]);
      }
#pragma unroll
      for (int i = 0; i < kCpt; ++i) {
        const int c = lt + i * kTpr;
        if (row_ok && c < kChunks) combine(r, c, cache[kCache ? i : 0], rb[kResidual ? i : 0]);
      }
    }
#pragma unroll kUnroll
    for (int i = 0; i < kCpt; ++i) {
      const int c = lt + i * kTpr;
      if (row_ok && c < kChunks) {
        RawChunk<InT> h;
        if (kCache)
          h = cache[kCache ? i : 0];
        else
          first_load(r, c, h);
        float v[16];
        ChunkWiden<InT>::apply(h, v);
        if (kNorm == kRmsNorm) {
#pragma unroll
          for (int j = 0; j < 16; ++j) v[j] = mul_rn(v[j], v[j]);
        }
        pad_tail(c, v);
        part[i] = chunk_tree_sum(v);
      }
    }
    float neg_mu = 0.0f;
    float sum = row_sum(part, red_sum);
    if (kNorm == kLayerNorm) {
      // Pass 2 (LayerNorm): the centred sum of squares, from the row as kept (or read again).
      neg_mu = -div_rn(sum, (float)kK);
#pragma unroll
      for (int i = 0; i < kP; ++i) part[i] = -0.0f;
#pragma unroll kUnroll
      for (int i = 0; i < kCpt; ++i) {
        const int c = lt + i * kTpr;
        if (row_ok && c < kChunks) {
          RawChunk<InT> h;
          if (kCache)
            h = cache[kCache ? i : 0];
          else
            reload(r, c, h);
          float v[16];
          ChunkWiden<InT>::apply(h, v);
#pragma unroll
          for (int j = 0; j < 16; ++j) {
            const float d = add_rn(v[j], neg_mu);
            v[j] = mul_rn(d, d);
          }
          pad_tail(c, v);
          part[i] = chunk_tree_sum(v);
        }
      }
      sum = row_sum(part, red_sum);
    }
    const float rstd = div_rn(1.0f, sqrt_rn_f32(add_rn(div_rn(sum, (float)kK), p.eps)));

    // Pass 3 (dynamic): absmax of v, exactly as quantize_rowwise takes it.
    float kept[kKeepV ? kCpt : 1][16];
    float scale;
    if (kStatic) {
      scale = p.static_scale;
    } else {
      float amax = 0.0f;
#pragma unroll kUnroll
      for (int i = 0; i < kCpt; ++i) {
        const int c = lt + i * kTpr;
        if (row_ok && c < kChunks) {
          RawChunk<InT> h;
          if (kCache)
            h = cache[kCache ? i : 0];
          else
            reload(r, c, h);
          float v[16];
          ChunkWiden<InT>::apply(h, v);
          normalize(p, vec, c, neg_mu, rstd, v);
#pragma unroll
          for (int j = 0; j < 16; ++j)
            if (16 * c + j < kK) amax = max_f32(amax, abs_f32(v[j]));
          if (kKeepV) {
#pragma unroll
            for (int j = 0; j < 16; ++j) kept[kKeepV ? i : 0][j] = v[j];
          }
        }
      }
      amax = Quant::row_max(amax, red_max);
      scale = div_rn(amax, 127.0f);
      if (row_ok && lt == 0) p.scale[row] = scale;
    }
    if (!row_ok) return;

    // Pass 4: quantize v. Dynamic: as quantize_rowwise (|v| <= absmax, so the fast path needs no saturation).
    // NOTE: a static scale can leave |v / scale| far above 127, past where the fast path's multiply-by-reciprocal
    // holds; v is clamped first to [RN(-128 * scale), RN(127 * scale)] (NaN passes: it quantizes to 0), which
    // changes no result of rni_sat(v / scale): the quotient of a clamped value rounds to -128 or 127 exactly as
    // the saturation would.
    const RowQuant rq = row_quant(scale);
    const float lo = mul_rn(-128.0f, scale), hi = mul_rn(127.0f, scale);
#pragma unroll kUnroll
    for (int i = 0; i < kCpt; ++i) {
      const int c = lt + i * kTpr;
      if (c < kChunks) {
        float v[16];
        if (kKeepV) {
#pragma unroll
          for (int j = 0; j < 16; ++j) v[j] = kept[kKeepV ? i : 0][j];
        } else {
          RawChunk<InT> h;
          if (kCache)
            h = cache[kCache ? i : 0];
          else
            reload(r, c, h);
          ChunkWiden<InT>::apply(h, v);
          normalize(p, vec, c, neg_mu, rstd, v);
        }
        if (vec && c < kFull) {
          u32 w[4] = {0u, 0u, 0u, 0u};
          if (rq.fast) {
            if (kStatic) {
#pragma unroll
              for (int j = 0; j < 16; ++j) v[j] = v[j] > hi ? hi : (v[j] < lo ? lo : v[j]);
            }
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
          st_global_v4(r.q + c * 16, o);
        } else {
#pragma unroll
          for (int j = 0; j < 16; ++j)
            if (16 * c + j < kK) r.q[16 * c + j] = (i8)quantize_one(v[j], scale);
        }
      }
    }
  }
};

}  // namespace qjitk

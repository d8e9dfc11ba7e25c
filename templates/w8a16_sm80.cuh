// w8a16_sm80.cuh: the weight-only int8 GEMM (W8A16; sm_80 and later, sm_90a included).
// y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]) with x [M, K] f16 / bf16 row-major and the int8 weight q [N, K]
// row-major, dequantized in registers inside the main loop: w = RN_T(RN_f32((q - zp) * scale)), then
// mma.sync m16n8k16 (T x T -> f32) with f32 accumulation. q -> f32 is exact by the mantissa trick: the byte
// (q + 128) becomes the low mantissa bits of 2^23, and subtracting 2^23 + 128 + zp (an exact f32 for |zp| < 2^23 -
// 128) leaves q - zp exactly (Sterbenz); one rounded multiply by the scale, one rounding to T. The scale (and zero
// point) is per tensor, per output channel, or per group of kGroup elements along K ([1, 1], [N, 1] or
// [N, ceil(K / kGroup)], row stride p.ld_scale); group scales travel with their k tile through shared memory.
// K is permuted inside each k tile (a sum's order, not its terms): lane (g, t) owns the kBK / 4 contiguous k of slice
// t, so it reads its weights of an n8 fragment with one wide shared load (8 / 16 / 32 bytes for kBK 32 / 64 / 128)
// and its x rows g, g + 8 the same way (no ldmatrix); mma step ks takes k = slice start + 4 ks + {0, 1} as the
// fragment's k pair {2t, 2t + 1} and + {2, 3} as {2t + 8, 2t + 9}, for x and q alike. Row pitches keep those reads
// free of bank conflicts (x 64 / 144 bytes for kBK 32 / 64, q kBK bytes; kBK 128: q 144, x 272, whose slices 0 and 2
// share banks: a 2-way conflict on x). A cp.async multistage pipeline stages x and q; chunks that cp.async cannot
// take (K tails, misaligned views) are loaded element by element with zero fill, so every shape and stride works.
// Split-K (kSplitK > 1, gridDim.z) is deterministic: f32 partials go to p.workspace, the last CTA of a tile to arrive
// (p.tile_counters) adds them in split order 0, 1, ... whoever arrives last, then runs the epilogue and resets the
// counter. Epilogue: RN_T(acc (+ bias)), each step rounded on its own. N and K are compile-time; M is a run-time
// argument.
namespace qjitk {

template <class T>
struct W8A16Mma;
template <>
struct W8A16Mma<f16> {
  static __device__ __forceinline__ void mma(float* d, const u32* a, const u32* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
  // {lo, hi} rounded to nearest even, lo in the low half (the lower k).
  static __device__ __forceinline__ u32 pack(float lo, float hi) {
    u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
  }
};
template <>
struct W8A16Mma<bf16> {
  static __device__ __forceinline__ void mma(float* d, const u32* a, const u32* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
  static __device__ __forceinline__ u32 pack(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
  }
};

__device__ __forceinline__ u32 w8a16_prmt(u32 a, u32 b, u32 sel) {
  u32 r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}

// Four int8 weights (bytes of v: the fragment's k, k + 1, k + 8, k + 9) -> two packed T registers {k, k + 1},
// {k + 8, k + 9} of an m16n8k16 fragment: w = RN_T(RN_f32((q - zp) * s)), c = 2^23 + 128 + zp (the decode layout,
// w8a16_sm80_decode.cuh, uses it for its A fragments).
template <class T>
__device__ __forceinline__ void w8a16_dequant(u32 v, float s, float c, u32 (&b)[2]) {
  const u32 u = v ^ 0x80808080u;  // q + 128 per byte
  float w[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float f = bits_to_f32(w8a16_prmt(u, 0x4B000000u, 0x7650u + (u32)i));  // 2^23 + q + 128, exact
    w[i] = __fmul_rn(__fsub_rn(f, c), s);  // (q - zp) exact, then one rounding to f32
  }
  b[0] = W8A16Mma<T>::pack(w[0], w[1]);
  b[1] = W8A16Mma<T>::pack(w[2], w[3]);
}

// kScaleMode: 0 per tensor, 1 per output channel, 2 per group of kGroup K elements.
template <int kN, int kK, int kBM, int kBN, int kBK, int kWarpsM, int kWarpsN, int kStages, int kSplitK, class T,
          int kScaleMode, int kGroup, bool kZp, bool kBias>
struct W8A16Sm80 {
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kWarpTileM = kBM / kWarpsM;
  static constexpr int kWarpTileN = kBN / kWarpsN;
  static constexpr int kMI = kWarpTileM / 16;  // m16 fragments per warp
  static constexpr int kNI = kWarpTileN / 8;   // n8 fragments per warp
  static constexpr int kPitchA = kBK == 32 ? 64 : kBK * 2 + 16;  // bytes per staged x row
  static constexpr int kPitchB = kBK == 128 ? 144 : kBK;         // bytes per staged q row
  static constexpr int kStageBytesA = kBM * kPitchA;
  static constexpr int kStageBytesB = kBN * kPitchB;
  static constexpr int kScaleSlots = kScaleMode == 2 ? kBN * (kZp ? 2 : 1) : 0;  // group scales (then zero points)
  static constexpr int kStageBytes = kStageBytesA + kStageBytesB + kScaleSlots * 4;
  static constexpr int kSmemBytes = kStages * kStageBytes;
  static constexpr int kChunksA = kBK / 8;   // 16-byte chunks per x row (8 elements)
  static constexpr int kChunksB = kBK / 16;  // 16-byte chunks per q row (16 elements)
  static constexpr int kLoadsA = (kBM * kChunksA + kThreads - 1) / kThreads;
  static constexpr int kLoadsB = (kBN * kChunksB + kThreads - 1) / kThreads;
  static constexpr int kWordsA = kBK / 8;   // u32 of one x row in a lane's slice (kBK / 4 elements)
  static constexpr int kWordsB = kBK / 16;  // u32 of one q row in a lane's slice = mma k steps per k tile
  static constexpr int kKTiles = (kK + kBK - 1) / kBK;
  static constexpr int kKTilesPerSplit = (kKTiles + kSplitK - 1) / kSplitK;
  static constexpr int kAcc = kMI * kNI * 4;
  static constexpr float kMagic = 8388736.0f;  // 2^23 + 128: the f32 whose low mantissa byte (q + 128) decodes to q

  static_assert(kBK == 32 || kBK == 64 || kBK == 128, "BK must be 32, 64 or 128 elements");
  static_assert(kBM % (16 * kWarpsM) == 0 && kBN % (8 * kWarpsN) == 0, "warp tiles of m16 x n8 fragments");
  static_assert(kMI * 2 * kWordsA <= 64, "x fragments of one k tile: at most 64 registers a lane");
  static_assert(kThreads <= 1024 && kStages >= 2, "threads and stages");
  static_assert(kScaleMode != 2 || (kGroup % kBK == 0), "a k tile lies inside one scale group");
  static_assert(kSplitK >= 1 && (kSplitK - 1) * kKTilesPerSplit < kKTiles, "every split needs a K tile");
  static_assert(kSmemBytes <= ArchLimits::kMaxSmemOptIn, "shared-memory budget exceeds this architecture's limit");

  static __device__ __forceinline__ void lds_v4(u32 addr, u32* r) {
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
  }
  static __device__ __forceinline__ void lds_v2(u32 addr, u32* r) {
    asm volatile("ld.shared.v2.u32 {%0, %1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(addr));
  }
  static __device__ __forceinline__ u32 lds_u32(u32 addr) {
    u32 v;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(addr));
    return v;
  }
  // The kWords u32 of a lane's slice at addr (16-byte aligned for kWords >= 4, 8-byte for 2).
  template <int kWords>
  static __device__ __forceinline__ void lds_slice(u32 addr, u32 (&r)[kWords]) {
    if constexpr (kWords == 2) {
      lds_v2(addr, r);
    } else {
#pragma unroll
      for (int v = 0; v < kWords / 4; ++v) lds_v4(addr + 16 * v, r + 4 * v);
    }
  }
  static __device__ __forceinline__ void cp_async_4(u32 dst, const void* src, int src_bytes) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(dst), "l"(src), "r"(src_bytes) : "memory");
  }
  static __device__ __forceinline__ u16 ldg_u16(const void* p) {
    u16 v;
    asm volatile("ld.global.nc.u16 %0, [%1];" : "=h"(v) : "l"(p));
    return v;
  }

  // A lane's share of the k tile loads, fixed for the whole K loop: per 16-byte chunk (x, then q) its source at
  // k = 0, its offset in a stage and its cp.async size (0 for a row past M or N: zero fill); in group mode its scale
  // (or zero point) slot's source row. Computed once, so a tile inside K costs an add and a cp.async a chunk.
  struct Lanes {
    const u8* src_a[kLoadsA];
    u32 dst_a[kLoadsA];
    int bytes_a[kLoadsA];
    const u8* src_b[kLoadsB];
    u32 dst_b[kLoadsB];
    int bytes_b[kLoadsB];
    const u8* src_s[kScaleSlots > 0 ? (kScaleSlots + kThreads - 1) / kThreads : 1];
    int bytes_s[kScaleSlots > 0 ? (kScaleSlots + kThreads - 1) / kThreads : 1];
  };
  static __device__ __forceinline__ Lanes lanes(const W8A16Params& p, i64 m0, int rows_a, int n0, int rows_b,
                                                 int tid) {
    Lanes l;
#pragma unroll
    for (int j = 0; j < kLoadsA; ++j) {
      const int c = tid + j * kThreads, r = c / kChunksA;
      l.src_a[j] = (const u8*)((const u16*)p.x + (m0 + r) * p.ldx + (c % kChunksA) * 8);
      l.dst_a[j] = (u32)(r * kPitchA + (c % kChunksA) * 16);
      l.bytes_a[j] = r < rows_a ? 16 : 0;
    }
#pragma unroll
    for (int j = 0; j < kLoadsB; ++j) {
      const int c = tid + j * kThreads, r = c / kChunksB;
      l.src_b[j] = (const u8*)p.w + (i64)(n0 + r) * p.ldw + (c % kChunksB) * 16;
      l.dst_b[j] = (u32)(kStageBytesA + r * kPitchB + (c % kChunksB) * 16);
      l.bytes_b[j] = r < rows_b ? 16 : 0;
    }
    if constexpr (kScaleSlots > 0) {
#pragma unroll
      for (int j = 0; j < (kScaleSlots + kThreads - 1) / kThreads; ++j) {
        const int c = tid + j * kThreads, r = c % kBN;
        const i64 row = (i64)(n0 + r) * p.ld_scale;
        // NOTE: columns past N read nothing (zeros, never stored); the pointer then is the scales' base.
        l.src_s[j] = r < rows_b ? (c < kBN ? (const u8*)(p.scale + row) : (const u8*)(p.zero_point + row))
                                : (const u8*)p.scale;
        l.bytes_s[j] = r < rows_b ? 4 : 0;
      }
    }
    return l;
  }

  // One k tile (kt) of x rows [m0, m0 + kBM) and q rows [n0, n0 + kBN) into the stage at `st`, with the tile's group
  // scales (and zero points) in group mode. A 16-byte chunk goes by cp.async when the operand allows it (vec: K and
  // the view aligned) and it lies inside K (when every chunk does, the common case, straight from `l`); a
  // missing row or a chunk past K is a zero-filling cp.async that reads nothing; a chunk that straddles K, or any
  // chunk of a misaligned view, is loaded element by element (zero past K) and stored to shared memory directly.
  static __device__ __forceinline__ void load_tile(const W8A16Params& p, const Lanes& l, u32 st, int kt, bool vec_a,
                                                   bool vec_b, int tid) {
    const int k0 = kt * kBK;
    if (vec_a && vec_b && k0 + kBK <= kK) {
#pragma unroll
      for (int j = 0; j < kLoadsA; ++j)
        if ((kBM * kChunksA) % kThreads == 0 || tid + j * kThreads < kBM * kChunksA)
          cp_async_16(st + l.dst_a[j], l.src_a[j] + 2 * k0, l.bytes_a[j]);
#pragma unroll
      for (int j = 0; j < kLoadsB; ++j)
        if ((kBN * kChunksB) % kThreads == 0 || tid + j * kThreads < kBN * kChunksB)
          cp_async_16(st + l.dst_b[j], l.src_b[j] + k0, l.bytes_b[j]);
    } else {
      load_edge_tile(l, st, k0, vec_a, vec_b, tid);
    }
    if constexpr (kScaleSlots > 0) {
#pragma unroll
      for (int j = 0; j < (kScaleSlots + kThreads - 1) / kThreads; ++j) {
        const int c = tid + j * kThreads;
        if (kScaleSlots % kThreads != 0 && c >= kScaleSlots) break;
        cp_async_4(st + kStageBytesA + kStageBytesB + 4 * c, l.src_s[j] + (l.bytes_s[j] ? 4 * (k0 / kGroup) : 0),
                   l.bytes_s[j]);
      }
    }
  }
  // load_tile's chunks for a tile that reaches past K or a view cp.async cannot take.
  static __device__ __forceinline__ void load_edge_tile(const Lanes& l, u32 st, int k0, bool vec_a, bool vec_b, int tid) {
#pragma unroll
    for (int j = 0; j < kLoadsA; ++j) {
      const int c = tid + j * kThreads;
      if ((kBM * kChunksA) % kThreads != 0 && c >= kBM * kChunksA) break;
      const int gk = k0 + (c % kChunksA) * 8;
      const u32 dst = st + l.dst_a[j];
      const u16* src = (const u16*)l.src_a[j] + k0;
      if (l.bytes_a[j] == 0 || gk >= kK || (vec_a && gk + 8 <= kK)) {
        cp_async_16(dst, src, gk < kK ? l.bytes_a[j] : 0);
      } else {
        u32 h[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) h[e] = gk + e < kK ? (u32)ldg_u16(src + e) : 0u;
        st_shared_v4(dst, V4{h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16)});
      }
    }
#pragma unroll
    for (int j = 0; j < kLoadsB; ++j) {
      const int c = tid + j * kThreads;
      if ((kBN * kChunksB) % kThreads != 0 && c >= kBN * kChunksB) break;
      const int gk = k0 + (c % kChunksB) * 16;
      const u32 dst = st + l.dst_b[j];
      const u8* src = l.src_b[j] + k0;
      if (l.bytes_b[j] == 0 || gk >= kK || (vec_b && gk + 16 <= kK)) {
        cp_async_16(dst, src, gk < kK ? l.bytes_b[j] : 0);
      } else {
        u32 b[4] = {0u, 0u, 0u, 0u};
#pragma unroll
        for (int e = 0; e < 16; ++e)
          if (gk + e < kK) b[e >> 2] |= (u32)ld_global_u8(src + e) << (8 * (e & 3));
        st_shared_v4(dst, V4{b[0], b[1], b[2], b[3]});
      }
    }
  }

  // The scale and the magic constant 2^23 + 128 + zp of column n, per tensor or per channel.
  static __device__ __forceinline__ void column_scale(const W8A16Params& p, int n, float& s, float& c) {
    s = 0.0f;
    c = kMagic;
    if (n >= kN) return;
    const i64 idx = kScaleMode == 0 ? 0 : (i64)n * p.ld_scale;
    s = __ldg(p.scale + idx);
    // NOTE: exact: 8388736 + zp is an integer below 2^24 for the zero points the contract allows.
    if (kZp) c = __int2float_rn(8388736 + __ldg(p.zero_point + idx));
  }

  // Four int8 weights -> the two packed B registers of an m16n8k16 fragment (w8a16_dequant).
  static __device__ __forceinline__ void dequant(u32 v, float s, float c, u32 (&b)[2]) {
    w8a16_dequant<T>(v, s, c, b);
  }

  static __device__ __forceinline__ void run(const W8A16Params& p) {
    extern __shared__ __attribute__((aligned(128))) u8 smem[];
    const int tid = (int)threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int warp_m = warp / kWarpsN;
    const int warp_n = warp % kWarpsN;
    const int g = lane >> 2;
    const int t = lane & 3;
    const i64 m0 = (i64)blockIdx.x * kBM;
    const int n0 = (int)blockIdx.y * kBN;
    const int rows_a = (int)min_i64((i64)p.m - m0, (i64)kBM);
    const int rows_b = min_i(kN - n0, kBN);
    const int split = kSplitK > 1 ? (int)blockIdx.z : 0;
    const int kt_begin = split * kKTilesPerSplit;
    const int nk = min_i(kKTiles - kt_begin, kKTilesPerSplit);
    const bool vec_a = kK % 8 == 0 && ((u64)p.x & 15) == 0 && (p.ldx & 7) == 0;
    const bool vec_b = kK % 16 == 0 && ((u64)p.w & 15) == 0 && (p.ldw & 15) == 0;
    const u32 s_base = smem_addr(smem);
    // This lane's slice (kBK / 4 elements at t * kBK / 4) of x row g of its first m16 fragment and of q row g of its
    // first n8 fragment, as byte offsets into a stage.
    const u32 a_lane = (u32)((warp_m * kWarpTileM + g) * kPitchA + t * (kBK / 2));
    const u32 b_lane = (u32)(kStageBytesA + (warp_n * kWarpTileN + g) * kPitchB + t * (kBK / 4));

    float acc[kMI][kNI][4];
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[mi][ni][j] = 0.0f;

    // Scales of this lane's columns: once (per tensor / channel), or per k tile from its stage (group mode).
    float sc[kNI], cc[kNI];
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni) {
      sc[ni] = 0.0f;
      cc[ni] = kMagic;
      if (kScaleMode != 2) column_scale(p, n0 + warp_n * kWarpTileN + ni * 8 + g, sc[ni], cc[ni]);
    }

    const Lanes ld = lanes(p, m0, rows_a, n0, rows_b, tid);
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < nk) load_tile(p, ld, s_base + s * kStageBytes, kt_begin + s, vec_a, vec_b, tid);
      cp_async_commit();
    }
    // Stage offsets of tile i (read) and tile i + kStages - 1 (written), stepped instead of divided.
    u32 rd = 0, wr = (kStages - 1) * kStageBytes;
#pragma unroll 1
    for (int i = 0; i < nk; ++i) {
      cp_async_wait<kStages - 2>();
      __syncthreads();  // tile i has landed for every thread; every warp is done with tile i - 1's stage
      const int next = i + kStages - 1;
      if (next < nk) load_tile(p, ld, s_base + wr, kt_begin + next, vec_a, vec_b, tid);
      cp_async_commit();
      const u32 st = s_base + rd;
      rd = rd == (kStages - 1) * kStageBytes ? 0 : rd + kStageBytes;
      wr = wr == (kStages - 1) * kStageBytes ? 0 : wr + kStageBytes;
      if constexpr (kScaleMode == 2) {
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) {
          const u32 slot = st + kStageBytesA + kStageBytesB + 4 * (warp_n * kWarpTileN + ni * 8 + g);
          sc[ni] = bits_to_f32(lds_u32(slot));
          if (kZp) cc[ni] = __int2float_rn(8388736 + (i32)lds_u32(slot + 4 * kBN));
        }
      }
      // x rows g and g + 8 of every m16 fragment; a fragment whose rows g + 8 are all past M reads zeros instead.
      u32 xa[kMI][2][kWordsA];
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi) {
        lds_slice(st + a_lane + (u32)(mi * 16 * kPitchA), xa[mi][0]);
        if (warp_m * kWarpTileM + mi * 16 + 8 < rows_a) {
          lds_slice(st + a_lane + (u32)((mi * 16 + 8) * kPitchA), xa[mi][1]);
        } else {
#pragma unroll
          for (int w = 0; w < kWordsA; ++w) xa[mi][1][w] = 0u;
        }
      }
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni) {
        u32 qw[kWordsB];
        lds_slice(st + b_lane + (u32)(ni * 8 * kPitchB), qw);
#pragma unroll
        for (int ks = 0; ks < kWordsB; ++ks) {
          u32 bf[2];
          dequant(qw[ks], sc[ni], cc[ni], bf);
#pragma unroll
          for (int mi = 0; mi < kMI; ++mi) {
            const u32 af[4] = {xa[mi][0][2 * ks], xa[mi][1][2 * ks], xa[mi][0][2 * ks + 1], xa[mi][1][2 * ks + 1]};
            W8A16Mma<T>::mma(acc[mi][ni], af, bf);
          }
        }
      }
    }
    cp_async_wait<0>();

    if (kSplitK > 1) {
      // Publish this split's partials (per thread, coalesced), count arrivals; the last CTA of the tile reduces.
      const i64 num_tiles = (i64)gridDim.x * gridDim.y;
      const i64 tile_id = (i64)blockIdx.x * gridDim.y + blockIdx.y;
      float* ws = p.workspace;
      float* mine = ws + ((i64)split * num_tiles + tile_id) * (i64)(kThreads * kAcc);
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
          for (int j = 0; j < 4; ++j)
            st_global_cg_s32((i32*)mine + ((mi * kNI + ni) * 4 + j) * kThreads + tid, (i32)f32_to_bits(acc[mi][ni][j]));
      fence_acq_rel_gpu();
      __syncthreads();  // every warp is done with the stages, so smem[0] may carry the flag
      volatile i32* is_last = (volatile i32*)smem;
      if (tid == 0) {
        const u32 old = atomic_add_u32_gpu((u32*)p.tile_counters + tile_id, 1u);
        *is_last = old == (u32)(kSplitK - 1);
      }
      __syncthreads();
      if (!*is_last) return;
      fence_acq_rel_gpu();
      // NOTE: split order, never arrival order: the f32 sums are then the same bits whichever CTA is last.
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int off = ((mi * kNI + ni) * 4 + j) * kThreads + tid;
            float sum = 0.0f;
#pragma unroll 1
            for (int s = 0; s < kSplitK; ++s) {
              const float v =
                  s == split ? acc[mi][ni][j]
                             : bits_to_f32((u32)ld_global_cg_s32(
                                   (const i32*)ws + ((i64)s * num_tiles + tile_id) * (i64)(kThreads * kAcc) + off));
              sum = s == 0 ? v : __fadd_rn(sum, v);
            }
            acc[mi][ni][j] = sum;
          }
      if (tid == 0) store_relaxed_u32_gpu((u32*)p.tile_counters + tile_id, 0u);  // ready for the next launch
    }

    const T* bias = (const T*)p.bias;
    T* y = (T*)p.y;
    const bool vec_y = (p.ldy & 1) == 0 && ((u64)p.y & 3) == 0;
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni) {
      const int col = n0 + warp_n * kWarpTileN + ni * 8 + 2 * t;
      const bool ok0 = col < kN, ok1 = col + 1 < kN;
      float b0 = 0.0f, b1 = 0.0f;
      if (kBias) {
        if (ok0) b0 = to_f32(bias[col]);
        if (ok1) b1 = to_f32(bias[col + 1]);
      }
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = warp_m * kWarpTileM + mi * 16 + g + 8 * h;
          if (r >= rows_a || !ok0) continue;
          float v0 = acc[mi][ni][2 * h], v1 = acc[mi][ni][2 * h + 1];
          if (kBias) {
            v0 = __fadd_rn(v0, b0);
            v1 = __fadd_rn(v1, b1);
          }
          T* dst = y + (m0 + r) * p.ldy + col;
          if (vec_y && ok1) {
            *(u32*)dst = W8A16Mma<T>::pack(v0, v1);
          } else {
            dst[0] = FromF32<T>::apply(v0);
            if (ok1) dst[1] = FromF32<T>::apply(v1);
          }
        }
      }
    }
  }
};

}  // namespace qjitk

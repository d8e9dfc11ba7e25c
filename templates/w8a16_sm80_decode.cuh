// w8a16_sm80_decode.cuh: the weight-only int8 GEMM's decode layout (swap_ab; pasted after w8a16_sm80.cuh, whose
// W8A16Mma and w8a16_dequant it uses). At decode the weight stream is the whole cost, so the weight rows ride the
// mma's M side: mma.sync m16n8k16 with A = the dequantized weight (16 output channels x 16 k) and B = x^T (16 k x 8
// tokens), and a warp streams its kChW (16 or 32) channels' int8 rows straight from global memory into registers
// with 16-byte ld.global.nc.L1::no_allocate loads, kStages k blocks ahead (a register ring: the bytes in flight per
// SM set the bandwidth); the weight never passes through shared memory. Same arithmetic as the main layout: w =
// RN_T(RN_f32((q - zp) * scale)) by the mantissa trick, f32 accumulation, RN_T(acc (+ bias)).
// K is permuted inside each k block of kBK (64 or 128) exactly as in w8a16_sm80.cuh: lane (g, t) owns the kBK / 4
// contiguous k of slice t, reads them for channel rows g and g + 8 (kBK / 64 loads of 16 bytes a row), and mma step
// w takes k = slice start + 4 w + {0, 1} as the fragment's k pair {2t, 2t + 1} and + {2, 3} as {2t + 8, 2t + 9}; the
// B fragment (token g) takes the same k of x, 4 w .. 4 w + 3 of the lane's slice: kBK / 2 contiguous bytes of x a
// token, read from shared memory with 16-byte loads. x of the CTA's whole K slice (kBM token rows, rows past M zero)
// is staged once with cp.async at the start, under the first weight loads; row pitch = slice bytes + 16, and for kBK
// 128 the 16-byte chunks 8..15 of a k block swap pairs (c ^ 2), so the eight lanes of a 16-byte load phase (rows g,
// g + 1, slices 0..3) hit eight distinct bank groups. Group scales (and zero points) are per lane: its slice lies in
// one group (kGroup % (kBK / 4) == 0), loaded with its weights into the ring.
// K splits twice, both deterministic: kWarpsM warps of a CTA take interleaved k blocks of the CTA's slice and add
// their accumulators through shared memory in warp order; kSplitK CTAs (gridDim.z) take contiguous slices and the
// last to arrive adds the f32 partials (p.workspace, p.tile_counters; only tokens < M travel) in split order, then
// runs the epilogue and resets the counter. Fast path: K % kBK == 0 and 16-byte aligned w / x with ldw % 16 == 0 and
// ldx % 8 == 0 (run-time check); any other shape or view takes the generic path (byte / element loads, zero past K),
// so every spec and view works. Channels past N read a valid row (N - 1) into accumulators never stored.
namespace qjitk {

template <int kN, int kK, int kBM, int kChW, int kWarpsN, int kWarpsM, int kBK, int kStages, int kSplitK, class T,
          int kScaleMode, int kGroup, bool kZp, bool kBias>
struct W8A16Decode {
  static constexpr int kThreads = 32 * kWarpsN * kWarpsM;
  static constexpr int kBN = kWarpsN * kChW;  // channels of a CTA
  static constexpr int kMI = kChW / 16;       // m16 fragments (channel groups of 16) per warp
  static constexpr int kNI = kBM / 8;         // n8 fragments (token groups of 8)
  static constexpr int kW = kBK / 16;         // u32 of weights per row and lane in a k block = mma steps per k block
  static constexpr int kXChunks = kBK / 32;   // 16-byte chunks of x per token and lane in a k block
  static constexpr int kKB = (kK + kBK - 1) / kBK;
  static constexpr int kKBPerSplit = (kKB + kSplitK - 1) / kSplitK;
  static constexpr int kPitch = kKBPerSplit * kBK * 2 + 16;  // bytes per staged x row
  static constexpr int kAcc = kMI * kNI * 4;
  static constexpr int kXBytes = kBM * kPitch;
  static constexpr int kRedBytes = (kWarpsM - 1) * kWarpsN * 32 * kAcc * 4;
  static constexpr int kSmemBytes = kXBytes > kRedBytes ? kXBytes : kRedBytes;
  static constexpr int kGroups = kScaleMode == 2 ? (kK + kGroup - 1) / kGroup : 1;
  static constexpr int kSlots = kScaleMode == 2 ? kStages : 1;  // ring slots of group scales
  static constexpr float kMagic = 8388736.0f;                   // 2^23 + 128 (w8a16_sm80.cuh)

  static_assert(kBK == 64 || kBK == 128, "decode k block: 64 or 128 elements");
  static_assert(kChW == 16 || kChW == 32, "16 or 32 channels a warp");
  static_assert(kBM == 8 || kBM == 16 || kBM == 32, "8, 16 or 32 tokens a CTA");
  static_assert(kStages >= 1 && kStages * kMI * 2 * kW <= 64, "the weight ring: at most 64 registers a lane");
  static_assert(kThreads <= 1024, "threads");
  static_assert(kScaleMode != 2 || kGroup % (kBK / 4) == 0, "a lane's slice lies inside one scale group");
  static_assert(kSplitK >= 1 && (kSplitK - 1) * kKBPerSplit < kKB, "every split needs a k block");
  static_assert(kSmemBytes <= ArchLimits::kMaxSmemOptIn, "shared-memory budget exceeds this architecture's limit");

  // 16 weight bytes, streamed: not kept in L1 (read once), L2 fetching the 256 bytes around them (the row's next k
  // blocks, asked for next).
  static __device__ __forceinline__ void ldg_stream_v4(const void* p, u32* r) {
    asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "l"(p));
  }
  static __device__ __forceinline__ void lds_v4(u32 addr, u32* r) {
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
  }
  static __device__ __forceinline__ u16 ldg_u16(const void* p) {
    u16 v;
    asm volatile("ld.global.nc.u16 %0, [%1];" : "=h"(v) : "l"(p));
    return v;
  }
  // Where x chunk c (16 bytes, 0 .. kBK / 8 - 1) of a k block lives inside its 2 kBK bytes.
  static __device__ __forceinline__ int swizzle(int c) { return kBK == 128 ? c ^ ((c >> 2) & 2) : c; }

  // One ring slot: the lane's weights of one k block (rows g, g + 8 of each m16 fragment) and, in group mode, their
  // scales and magic constants.
  struct Slot {
    u32 q[kMI][2][kW];
    float s[kMI][2];
    float c[kMI][2];
  };
  // The lane's rows, fixed for the whole loop.
  struct Rows {
    const u8* w[kMI][2];  // weight row at the CTA's first k plus the lane's slice
    i64 srow[kMI][2];     // scale / zero-point row offset
    float s[kMI][2];      // per tensor / channel: the scale and magic constant, once
    float c[kMI][2];
  };

  // The weights (and group scales) of local k block kb into `sl`. kFast: K % kBK == 0 and the view 16-byte aligned.
  template <bool kFast>
  static __device__ __forceinline__ void load(const W8A16Params& p, const Rows& r, int k_begin, int kb, int t,
                                              bool vec, Slot& sl) {
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int v = 0; v < kW / 4; ++v) {
          const u8* src = r.w[mi][h] + kb * kBK + 16 * v;
          if (kFast) {
            ldg_stream_v4(src, &sl.q[mi][h][4 * v]);
          } else {
            const int gk = k_begin + kb * kBK + t * (kBK / 4) + 16 * v;
            if (vec && gk + 16 <= kK) {
              ldg_stream_v4(src, &sl.q[mi][h][4 * v]);
            } else {
              u32 b[4] = {0u, 0u, 0u, 0u};
#pragma unroll
              for (int e = 0; e < 16; ++e)
                if (gk + e < kK) b[e >> 2] |= (u32)ld_global_u8(src + e) << (8 * (e & 3));
#pragma unroll
              for (int e = 0; e < 4; ++e) sl.q[mi][h][4 * v + e] = b[e];
            }
          }
        }
    if constexpr (kScaleMode == 2) {
      // NOTE: past K (a last k block's slice beyond the tail) the last group's scale: finite, times x = 0.
      const int gi = min_i((k_begin + kb * kBK + t * (kBK / 4)) / kGroup, kGroups - 1);
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          sl.s[mi][h] = __ldg(p.scale + r.srow[mi][h] + gi);
          sl.c[mi][h] = kZp ? __int2float_rn(8388736 + __ldg(p.zero_point + r.srow[mi][h] + gi)) : kMagic;
        }
    }
  }

  // One k block: x of the lane's tokens from shared memory, the weights dequantized, kW mma steps a fragment pair.
  // x_lane: the lane's first chunk (token g, slice t) of k block 0; sw: its chunk swap (2 for slices 2, 3 of kBK 128).
  static __device__ __forceinline__ void compute(const Slot& sl, const Rows& r, u32 x_lane, int sw, int kb,
                                                 float (&acc)[kMI][kNI][4]) {
    u32 xb[kNI][2 * kW];
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
      for (int v = 0; v < kXChunks; ++v)
        lds_v4(x_lane + (u32)(ni * 8 * kPitch + kb * kBK * 2 + (v ^ sw) * 16), &xb[ni][4 * v]);
#pragma unroll
    for (int w = 0; w < kW; ++w)
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi) {
        const float s0 = kScaleMode == 2 ? sl.s[mi][0] : r.s[mi][0], c0 = kScaleMode == 2 ? sl.c[mi][0] : r.c[mi][0];
        const float s1 = kScaleMode == 2 ? sl.s[mi][1] : r.s[mi][1], c1 = kScaleMode == 2 ? sl.c[mi][1] : r.c[mi][1];
        u32 lo[2], hi[2];
        w8a16_dequant<T>(sl.q[mi][0][w], s0, c0, lo);  // row g: k pairs {2t, 2t + 1}, {2t + 8, 2t + 9}
        w8a16_dequant<T>(sl.q[mi][1][w], s1, c1, hi);  // row g + 8
        const u32 a[4] = {lo[0], hi[0], lo[1], hi[1]};
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) {
          const u32 b[2] = {xb[ni][2 * w], xb[ni][2 * w + 1]};
          W8A16Mma<T>::mma(acc[mi][ni], a, b);
        }
      }
  }

  // Stages x, runs the weight ring over this warp's k blocks (local kb = warp_m, warp_m + kWarpsM, ...).
  template <bool kFast>
  static __device__ __forceinline__ void main_loop(const W8A16Params& p, const Rows& r, u32 x_s, i64 m0, int rows,
                                                   int k_begin, int nkb, int warp_m, int lane, bool vec,
                                                   float (&acc)[kMI][kNI][4]) {
    const int tid = (int)threadIdx.x, g = lane >> 2, t = lane & 3;
    // x [rows, K slice] -> shared, 16-byte chunks of 8 elements, zero past M and K.
    constexpr int kRowChunks = kKBPerSplit * kBK / 8;
    const u16* xg = (const u16*)p.x;
#pragma unroll 1
    for (int i = tid; i < kBM * kRowChunks; i += kThreads) {
      const int row = i / kRowChunks, j = i % kRowChunks;
      const int gk = k_begin + 8 * j;
      const u32 dst = x_s + (u32)(row * kPitch + (j / (kBK / 8)) * kBK * 2 + swizzle(j % (kBK / 8)) * 16);
      const bool in = row < rows && gk < kK;
      const u16* src = in ? xg + (m0 + row) * p.ldx + gk : xg;
      if (kFast) {
        cp_async_16(dst, src, in ? 16 : 0);
      } else {
        u32 h[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) h[e] = in && gk + e < kK ? (u32)ldg_u16(src + e) : 0u;
        st_shared_v4(dst, V4{h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16)});
      }
    }
    if (kFast) cp_async_commit();
    const int nj = nkb > warp_m ? (nkb - warp_m + kWarpsM - 1) / kWarpsM : 0;
    Slot ring[kStages];
#pragma unroll
    for (int s = 0; s < kStages; ++s)
      if (s < nj) load<kFast>(p, r, k_begin, warp_m + s * kWarpsM, t, vec, ring[s]);
    if (kFast) cp_async_wait<0>();
    __syncthreads();  // x has landed for every warp (the weight loads stay in flight)
    // NOTE: chunk v of slice t lives at swizzle(kXChunks t + v) = kXChunks t + (v ^ sw).
    const u32 x_lane = x_s + (u32)(g * kPitch + t * kXChunks * 16);
    const int sw = kBK == 128 ? (t & 2) : 0;
#pragma unroll 1
    for (int j0 = 0; j0 < nj; j0 += kStages) {
#pragma unroll
      for (int s = 0; s < kStages; ++s) {
        const int j = j0 + s;
        if (j < nj) {
          compute(ring[s], r, x_lane, sw, warp_m + j * kWarpsM, acc);
          if (j + kStages < nj) load<kFast>(p, r, k_begin, warp_m + (j + kStages) * kWarpsM, t, vec, ring[s]);
        }
      }
    }
  }

  static __device__ __forceinline__ void run(const W8A16Params& p) {
    extern __shared__ __attribute__((aligned(128))) u8 smem[];
    const int tid = (int)threadIdx.x;
    const int lane = tid & 31, warp = tid >> 5;
    const int warp_m = warp / kWarpsN, warp_n = warp % kWarpsN;
    const int g = lane >> 2, t = lane & 3;
    const i64 m0 = (i64)blockIdx.x * kBM;
    const int rows = (int)min_i64((i64)p.m - m0, (i64)kBM);
    const int n0 = (int)blockIdx.y * kBN + warp_n * kChW;  // this warp's first channel
    const int split = kSplitK > 1 ? (int)blockIdx.z : 0;
    const int kb_begin = split * kKBPerSplit;
    const int nkb = min_i(kKB - kb_begin, kKBPerSplit);
    const int k_begin = kb_begin * kBK;
    const u32 x_s = smem_addr(smem);

    Rows r;
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int ch = min_i(n0 + mi * 16 + 8 * h + g, kN - 1);
        r.w[mi][h] = (const u8*)p.w + (i64)ch * p.ldw + k_begin + t * (kBK / 4);
        r.srow[mi][h] = kScaleMode == 0 ? 0 : (i64)ch * p.ld_scale;
        r.s[mi][h] = 0.0f;
        r.c[mi][h] = kMagic;
        if (kScaleMode != 2) {
          r.s[mi][h] = __ldg(p.scale + r.srow[mi][h]);
          // NOTE: exact: 8388736 + zp is an integer below 2^24 for the zero points the contract allows.
          if (kZp) r.c[mi][h] = __int2float_rn(8388736 + __ldg(p.zero_point + r.srow[mi][h]));
        }
      }

    float acc[kMI][kNI][4];
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[mi][ni][j] = 0.0f;

    const bool vec = ((u64)p.w & 15) == 0 && (p.ldw & 15) == 0;
    const bool fast = kK % kBK == 0 && vec && ((u64)p.x & 15) == 0 && (p.ldx & 7) == 0;
    if (fast)
      main_loop<true>(p, r, x_s, m0, rows, k_begin, nkb, warp_m, lane, vec, acc);
    else
      main_loop<false>(p, r, x_s, m0, rows, k_begin, nkb, warp_m, lane, vec, acc);

    if constexpr (kWarpsM > 1) {
      // Warps of one channel group add their K parts in warp order through shared memory (x is no longer read).
      __syncthreads();
      float* red = (float*)smem;
      if (warp_m > 0) {
#pragma unroll
        for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
          for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
            for (int j = 0; j < 4; ++j)
              red[(((warp_m - 1) * kWarpsN + warp_n) * kAcc + (mi * kNI + ni) * 4 + j) * 32 + lane] = acc[mi][ni][j];
      }
      __syncthreads();
      if (warp_m == 0) {
#pragma unroll 1
        for (int wm = 1; wm < kWarpsM; ++wm)
#pragma unroll
          for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
            for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
              for (int j = 0; j < 4; ++j)
                acc[mi][ni][j] = __fadd_rn(
                    acc[mi][ni][j], red[(((wm - 1) * kWarpsN + warp_n) * kAcc + (mi * kNI + ni) * 4 + j) * 32 + lane]);
      }
    }

    // The token of accumulator j of fragment ni (relative to m0), and whether it exists.
    auto token = [&](int ni, int j) { return ni * 8 + 2 * t + (j & 1); };
    if (kSplitK > 1) {
      // warp_m 0 publishes this split's partials (per thread, coalesced; tokens < M only), the CTA counts its
      // arrival, and the last CTA of the tile adds the splits in split order.
      constexpr int kSlab = kWarpsN * 32;  // threads holding a tile's accumulators
      const i64 num_tiles = (i64)gridDim.x * gridDim.y;
      const i64 tile_id = (i64)blockIdx.x * gridDim.y + blockIdx.y;
      const int me = warp_n * 32 + lane;
      float* ws = p.workspace;
      if (warp_m == 0) {
        float* mine = ws + ((i64)split * num_tiles + tile_id) * (i64)(kSlab * kAcc);
#pragma unroll
        for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
          for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
            for (int j = 0; j < 4; ++j)
              if (token(ni, j) < rows)
                st_global_cg_s32((i32*)mine + ((mi * kNI + ni) * 4 + j) * kSlab + me, (i32)f32_to_bits(acc[mi][ni][j]));
      }
      fence_acq_rel_gpu();
      __syncthreads();  // every warp is done with shared memory, so smem[0] may carry the flag
      volatile i32* is_last = (volatile i32*)smem;
      if (tid == 0) {
        const u32 old = atomic_add_u32_gpu((u32*)p.tile_counters + tile_id, 1u);
        *is_last = old == (u32)(kSplitK - 1);
      }
      __syncthreads();
      if (!*is_last || warp_m != 0) return;
      fence_acq_rel_gpu();
      // NOTE: split order, never arrival order: the f32 sums are then the same bits whichever CTA is last.
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            if (token(ni, j) >= rows) continue;
            const int off = ((mi * kNI + ni) * 4 + j) * kSlab + me;
            float sum = 0.0f;
#pragma unroll 1
            for (int s = 0; s < kSplitK; ++s) {
              const i32* theirs = (const i32*)ws + ((i64)s * num_tiles + tile_id) * (i64)(kSlab * kAcc) + off;
              const float v = s == split ? acc[mi][ni][j] : bits_to_f32((u32)ld_global_cg_s32(theirs));
              sum = s == 0 ? v : __fadd_rn(sum, v);
            }
            acc[mi][ni][j] = sum;
          }
      if (tid == 0) store_relaxed_u32_gpu((u32*)p.tile_counters + tile_id, 0u);  // ready for the next launch
    }
    if (warp_m != 0) return;

    // Epilogue: accumulator j of fragment (mi, ni) is channel n0 + 16 mi + g + 8 (j >> 1), token m0 + token(ni, j).
    const T* bias = (const T*)p.bias;
    T* y = (T*)p.y;
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int ch = n0 + mi * 16 + 8 * h + g;
        if (ch >= kN) continue;
        const float b = kBias ? to_f32(bias[ch]) : 0.0f;
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int tok = token(ni, e);
            if (tok >= rows) continue;
            float v = acc[mi][ni][2 * h + e];
            if (kBias) v = __fadd_rn(v, b);
            y[(m0 + tok) * p.ldy + ch] = FromF32<T>::apply(v);
          }
      }
  }
};

}  // namespace qjitk

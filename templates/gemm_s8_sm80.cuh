// gemm_s8_sm80.cuh: the portable int8 tensor-core GEMM (sm_80 and later, sm_90a included).
// C[m, n] = epilogue(sum_k a[m, k] * b[n, k]) with a [M, K] and b [N, K] both K-major, exact int32 accumulation by
// mma.sync m16n8k32 (A "row", B "col"), a cp.async multistage pipeline into a swizzled shared layout that ldmatrix
// reads without bank conflicts, and the fused epilogue a_scale[m] * b_scale[n] * acc (+ bias[n]) computed in f32 and
// rounded once (or in f64 for the validation output). N and K are compile-time; M is a run-time argument.
// Every shape works: M and N tails are masked, K % 16 != 0 (or a misaligned pointer / stride found at run time)
// takes a predicated byte-load path with zero fill; stores vectorise only when the run-time alignment allows.
// Optional split-K (kSplitK > 1, gridDim.z): int32 partials go to p.workspace, the last CTA of a tile to arrive (by
// an arrival counter in p.tile_counters) sums them in a fixed order, runs the epilogue and resets the counter to 0.
// Integer addition makes the result independent of arrival order, so split-K stays bit-stable.
namespace qjitk {

// Epilogue per output type: one rounding to OutT from an f32 (or, for f64, a double) computation.
template <class OutT>
struct GemmEpilogue {
  static __device__ __forceinline__ OutT apply(float a_s, float b_s, i32 acc, bool has_bias, OutT bias) {
    float v = mul_rn(mul_rn(a_s, b_s), s32_to_f32(acc));
    if (has_bias) v = add_rn(v, to_f32(bias));
    return FromF32<OutT>::apply(v);
  }
};
template <>
struct GemmEpilogue<double> {
  static __device__ __forceinline__ double apply(float a_s, float b_s, i32 acc, bool has_bias, double bias) {
    double v = mul_rn(mul_rn((double)a_s, (double)b_s), (double)acc);  // the i32 -> f64 conversion is exact
    if (has_bias) v = add_rn(v, bias);
    return v;
  }
};

template <class T>
struct alignas(2 * sizeof(T)) Pair {
  T v[2];
};

template <int kN, int kK, int kBM, int kBN, int kBK, int kWarpsM, int kWarpsN, int kStages, int kSplitK, class OutT,
          bool kBias, bool kPerToken>
struct GemmS8Sm80 {
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kWarpTileM = kBM / kWarpsM;
  static constexpr int kWarpTileN = kBN / kWarpsN;
  static constexpr int kMI = kWarpTileM / 16;  // m16 fragments per warp
  static constexpr int kNI = kWarpTileN / 8;   // n8 fragments per warp
  static constexpr int kChunksPerRow = kBK / 16;
  static constexpr int kStageBytesA = kBM * kBK;
  static constexpr int kStageBytes = (kBM + kBN) * kBK;
  static constexpr int kSmemBytes = kStages * kStageBytes;
  static constexpr int kKTiles = (kK + kBK - 1) / kBK;
  static constexpr int kKTilesPerSplit = (kKTiles + kSplitK - 1) / kSplitK;
  static constexpr bool kKVec = (kK % 16) == 0;  // 16-byte chunks never straddle the end of a row
  static constexpr int kAccPerThread = kMI * kNI * 4;
  static constexpr int kRasterGroupM = 8;  // M tiles walked together so their B tiles stay in L2

  static_assert(kBK == 32 || kBK == 64 || kBK == 128, "BK must be 32, 64 or 128 bytes");
  static_assert(kBM % (16 * kWarpsM) == 0, "BM must be a multiple of 16 * warps_m");
  static_assert(kBN % (16 * kWarpsN) == 0, "BN must be a multiple of 16 * warps_n (ldmatrix.x4 loads two n8)");
  static_assert(kThreads <= 1024, "at most 1024 threads");
  static_assert(kStages >= 2, "a pipeline needs at least 2 stages");
  static_assert(kSplitK >= 1 && (kSplitK - 1) * kKTilesPerSplit < kKTiles, "every split needs a K tile");
  static_assert(kSmemBytes <= ArchLimits::kMaxSmemOptIn, "shared-memory budget exceeds this architecture's opt-in limit");
  static_assert((kBM * kChunksPerRow) % 8 == 0 && (kBN * kChunksPerRow) % 8 == 0, "swizzle works on 128-byte lines");

  // Byte offset of 16-byte chunk kc of row r inside one operand tile. Chunks are numbered row-major and grouped in
  // 128-byte lines; within a line the chunk index is XORed with the line number. NOTE: ldmatrix reads 8 rows at the
  // same kc; for BK = 32/64/128 those 8 rows span 2/4/8 lines and the XOR puts them in 8 distinct 16-byte bank
  // groups, so each ldmatrix phase is conflict-free; a warp's cp.async of 8 consecutive chunks fills one line.
  static __device__ __forceinline__ u32 swizzle(int r, int kc) {
    const int c = r * kChunksPerRow + kc;
    return (u32)(((c & ~7) | ((c & 7) ^ ((c >> 3) & 7))) << 4);
  }

  // One operand tile (ROWS x BK) of k tile kt: rows [row0, row0 + ROWS) of src, rows >= rows_valid zero-filled.
  template <int kRows>
  static __device__ __forceinline__ void load_tile(u32 dst, const u8* src, i64 ld, int row0, int rows_valid, int kt,
                                                   bool vec) {
    constexpr int kTotal = kRows * kChunksPerRow;
    constexpr int kIters = (kTotal + kThreads - 1) / kThreads;
    const int k0 = kt * kBK;
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int idx = i * kThreads + (int)threadIdx.x;
      if (kTotal % kThreads == 0 || idx < kTotal) {
        const int r = idx / kChunksPerRow;
        const int kc = idx % kChunksPerRow;
        const int gk = k0 + kc * 16;
        const bool row_ok = row0 + r < rows_valid;
        const u8* g = src + (i64)(row0 + r) * ld + gk;
        if (kKVec && vec) {
          const bool ok = row_ok && gk < kK;
          cp_async_16(dst + swizzle(r, kc), ok ? (const void*)g : (const void*)src, ok ? 16 : 0);
        } else {
          u32 w[4] = {0u, 0u, 0u, 0u};
          if (row_ok) {
#pragma unroll
            for (int j = 0; j < 16; ++j)
              if (gk + j < kK) w[j >> 2] |= ((u32)ld_global_u8(g + j)) << (8 * (j & 3));
          }
          V4 v;
          v.x = w[0];
          v.y = w[1];
          v.z = w[2];
          v.w = w[3];
          st_shared_v4(dst + swizzle(r, kc), v);
        }
      }
    }
  }

  static __device__ __forceinline__ void ldmatrix_x4(u32 addr, u32& r0, u32& r1, u32& r2, u32& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
  }
  static __device__ __forceinline__ void mma(i32* d, const u32* a, const u32* b) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }

  // acc += A(stage) * B(stage)^T for this warp's tile. Fragment layouts (PTX ISA, m16n8k32 .s8):
  // A reg j: row g + 8 * (j & 1), k bytes 16 * (j >> 1) + 4 * t .. +3; B reg j: n = g, k bytes 16 * j + 4 * t .. +3;
  // with g = lane / 4, t = lane % 4. ldmatrix.x4 matrix i is addressed by lanes 8i..8i+7 (one row each) and lands
  // in register i as row lane / 4, bytes 4 * (lane % 4): exactly the fragment when matrices are ordered as below.
  static __device__ __forceinline__ void compute_stage(u32 sa, u32 sb, int warp_m, int warp_n, int lane,
                                                       i32 (&acc)[kMI][kNI][4]) {
#pragma unroll
    for (int ks = 0; ks < kBK / 32; ++ks) {
      u32 af[kMI][4];
      u32 bf[kNI][2];
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi) {
        // matrices: (rows 0-7, k 0-15), (rows 8-15, k 0-15), (rows 0-7, k 16-31), (rows 8-15, k 16-31)
        const int r = warp_m * kWarpTileM + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int kc = ks * 2 + (lane >> 4);
        ldmatrix_x4(sa + swizzle(r, kc), af[mi][0], af[mi][1], af[mi][2], af[mi][3]);
      }
#pragma unroll
      for (int nj = 0; nj < kNI / 2; ++nj) {
        // matrices: (n 0-7, k 0-15), (n 0-7, k 16-31), (n 8-15, k 0-15), (n 8-15, k 16-31)
        const int r = warp_n * kWarpTileN + nj * 16 + (lane & 7) + (lane >> 4) * 8;
        const int kc = ks * 2 + ((lane >> 3) & 1);
        ldmatrix_x4(sb + swizzle(r, kc), bf[2 * nj][0], bf[2 * nj][1], bf[2 * nj + 1][0], bf[2 * nj + 1][1]);
      }
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) mma(acc[mi][ni], af[mi], bf[ni]);
    }
  }

  // Maps the launch-order block index to (m tile, n tile): groups of kRasterGroupM M tiles sweep all N tiles
  // column by column, so CTAs in flight together share A rows and B columns in L2.
  static __device__ __forceinline__ void tile_coords(i64& m_tile, int& n_tile) {
    const i64 num_m = gridDim.x;
    const i64 num_n = gridDim.y;
    const i64 lin = (i64)blockIdx.y * num_m + blockIdx.x;
    const i64 group_size = (i64)kRasterGroupM * num_n;
    const i64 group = lin / group_size;
    const i64 first_m = group * kRasterGroupM;
    const i64 rows_in_group = min_i64(num_m - first_m, (i64)kRasterGroupM);
    const i64 in_group = lin - group * group_size;
    m_tile = first_m + in_group % rows_in_group;
    n_tile = (int)(in_group / rows_in_group);
  }

  static __device__ __forceinline__ void run(const GemmS8Params& p) {
    extern __shared__ __attribute__((aligned(128))) u8 smem[];
    const int tid = (int)threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int warp_m = warp / kWarpsN;
    const int warp_n = warp % kWarpsN;
    i64 m_tile;
    int n_tile;
    tile_coords(m_tile, n_tile);
    const int split = kSplitK > 1 ? (int)blockIdx.z : 0;
    const i64 m0 = m_tile * kBM;
    const int n0 = n_tile * kBN;
    const int rows_a = (int)min_i64((i64)p.m - m0, (i64)kBM);  // >= 1 by the grid's construction
    const int rows_b = min_i(kN - n0, kBN);
    const u8* a = (const u8*)p.a + m0 * p.lda;
    const u8* b = (const u8*)p.b + (i64)n0 * p.ldb;
    // NOTE: the 16-byte cp.async path needs every chunk's global address 16-byte aligned; else bytes, zero-filled.
    const bool vec = kKVec && (((u64)p.a | (u64)p.b) & 15) == 0 && ((p.lda | p.ldb) & 15) == 0;

    const int kt_begin = split * kKTilesPerSplit;
    const int nk = min_i(kKTiles - kt_begin, kKTilesPerSplit);
    const u32 s_base = smem_addr(smem);

    i32 acc[kMI][kNI][4];
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[mi][ni][j] = 0;

#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < nk) {
        const u32 st = s_base + s * kStageBytes;
        load_tile<kBM>(st, a, p.lda, 0, rows_a, kt_begin + s, vec);
        load_tile<kBN>(st + kStageBytesA, b, p.ldb, 0, rows_b, kt_begin + s, vec);
      }
      cp_async_commit();
    }
    int read_stage = 0;
    int write_stage = kStages - 1;
    for (int i = 0; i < nk; ++i) {
      cp_async_wait<kStages - 2>();  // k tile i has landed (this thread's copies) ...
      __syncthreads();               // ... everyone's, and nobody still reads the stage written below
      const int next = i + kStages - 1;
      if (next < nk) {
        const u32 st = s_base + write_stage * kStageBytes;
        load_tile<kBM>(st, a, p.lda, 0, rows_a, kt_begin + next, vec);
        load_tile<kBN>(st + kStageBytesA, b, p.ldb, 0, rows_b, kt_begin + next, vec);
      }
      cp_async_commit();
      const u32 sr = s_base + read_stage * kStageBytes;
      compute_stage(sr, sr + kStageBytesA, warp_m, warp_n, lane, acc);
      read_stage = read_stage + 1 == kStages ? 0 : read_stage + 1;
      write_stage = write_stage + 1 == kStages ? 0 : write_stage + 1;
    }
    cp_async_wait<0>();

    if (kSplitK > 1) {
      // Publish this split's partial tile, count arrivals; only the last CTA of the tile continues.
      const i64 num_tiles = (i64)gridDim.x * gridDim.y;
      const i64 tile_id = m_tile * gridDim.y + n_tile;
      i32* ws = (i32*)p.workspace;
      i32* mine = ws + ((i64)split * num_tiles + tile_id) * (i64)(kThreads * kAccPerThread);
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
          for (int j = 0; j < 4; ++j) st_global_cg_s32(mine + ((mi * kNI + ni) * 4 + j) * kThreads + tid, acc[mi][ni][j]);
      fence_acq_rel_gpu();
      __syncthreads();  // also: every warp is done reading the stages, so smem[0] may carry the flag
      volatile i32* is_last = (volatile i32*)smem;
      if (tid == 0) {
        const u32 old = atomic_add_u32_gpu((u32*)p.tile_counters + tile_id, 1u);
        *is_last = old == (u32)(kSplitK - 1);
      }
      __syncthreads();
      if (!*is_last) return;
      fence_acq_rel_gpu();
#pragma unroll 1
      for (int s = 0; s < kSplitK; ++s) {  // fixed order (integer sums are exact anyway)
        if (s == split) continue;
        const i32* other = ws + ((i64)s * num_tiles + tile_id) * (i64)(kThreads * kAccPerThread);
#pragma unroll
        for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
          for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
            for (int j = 0; j < 4; ++j)
              acc[mi][ni][j] += ld_global_cg_s32(other + ((mi * kNI + ni) * 4 + j) * kThreads + tid);
      }
      if (tid == 0) store_relaxed_u32_gpu((u32*)p.tile_counters + tile_id, 0u);  // ready for the next launch
    }
    epilogue(p, acc, m0, rows_a, n0, warp_m, warp_n, lane);
  }

  static __device__ __forceinline__ void epilogue(const GemmS8Params& p, const i32 (&acc)[kMI][kNI][4], i64 m0,
                                                  int rows_a, int n0, int warp_m, int warp_n, int lane) {
    const int g = lane >> 2;
    const int t = lane & 3;
    const OutT* bias = (const OutT*)p.bias;
    OutT* c = (OutT*)p.c;
    // Pair stores need an even ldc, an aligned base, and (N odd) both columns in range; else element stores.
    const bool vec_c = (p.ldc & 1) == 0 && ((u64)p.c & (2 * sizeof(OutT) - 1)) == 0;
#pragma unroll
    for (int ni = 0; ni < kNI; ++ni) {
      const int col = n0 + warp_n * kWarpTileN + ni * 8 + 2 * t;
      const bool ok0 = col < kN;
      const bool ok1 = col + 1 < kN;
      const float bs0 = ok0 ? p.b_scale[col] : 0.0f;
      const float bs1 = ok1 ? p.b_scale[col + 1] : 0.0f;
      OutT bias0 = OutT(), bias1 = OutT();
      if (kBias) {
        if (ok0) bias0 = bias[col];
        if (ok1) bias1 = bias[col + 1];
      }
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = warp_m * kWarpTileM + mi * 16 + g + 8 * h;
          if (r >= rows_a || !ok0) continue;
          const i64 row = m0 + r;
          const float a_s = kPerToken ? (p.a_scale ? p.a_scale[row] : p.a_scale_value) : p.a_scale_value;
          Pair<OutT> out;
          out.v[0] = GemmEpilogue<OutT>::apply(a_s, bs0, acc[mi][ni][2 * h], kBias, bias0);
          out.v[1] = GemmEpilogue<OutT>::apply(a_s, bs1, acc[mi][ni][2 * h + 1], kBias, bias1);
          OutT* dst = c + row * p.ldc + col;
          if (vec_c && ok1) {
            *(Pair<OutT>*)dst = out;
          } else {
            dst[0] = out.v[0];
            if (ok1) dst[1] = out.v[1];
          }
        }
      }
    }
  }
};

}  // namespace qjitk

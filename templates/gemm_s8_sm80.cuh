// gemm_s8_sm80.cuh: the portable int8 tensor-core GEMM (sm_80 and later, sm_90a included).
// C[m, n] = epilogue(sum_k a[m, k] * b[n, k]) with a [M, K] and b [N, K] both K-major, exact int32 accumulation by
// mma.sync m16n8k32 (A "row", B "col"), a cp.async multistage pipeline into a swizzled shared layout that ldmatrix
// reads without bank conflicts (register fragments double-buffered across k steps and stages, the next stage's
// copies interleaved with the mma's, one barrier per k tile: see mainloop), and the fused epilogue
// a_scale[m] * b_scale[n] * acc (+ bias[n]) computed in f32 and rounded once (or in f64 for the validation output).
// N and K are compile-time; M is a run-time argument.
// Every shape works: M and N tails are masked, K % 16 != 0 (or a misaligned pointer / stride found at run time)
// takes a register path (aligned 16-byte reads realigned in registers, bytes past K zeroed; out of line when the
// kernel also has the cp.async path); stores vectorise only when the run-time alignment allows.
// Optional split-K (kSplitK > 1, gridDim.z): int32 partials go to p.workspace, the last CTA of a tile to arrive (by
// an arrival counter in p.tile_counters) sums them in a fixed order, runs the epilogue and resets the counter to 0.
// Integer addition makes the result independent of arrival order, so split-K stays bit-stable.
namespace qjitk {

// Epilogue per output type: common.cuh's EpilogueMath (the arithmetic contract both GEMM families share), one
// rounding to OutT from an f32 (or, for f64, a double) computation.
template <class OutT>
struct GemmEpilogue {
  static __device__ __forceinline__ OutT apply(float a_s, float b_s, i32 acc, bool has_bias, OutT bias) {
    typedef EpilogueMath<OutT> M;
    typename M::Acc v = M::scale(a_s, b_s, acc);
    if (has_bias) v = M::add_bias(v, M::widen(bias));
    return M::round(v);
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
  static constexpr int kKSteps = kBK / 32;                                          // mma k steps per k tile
  static constexpr int kCopiesA = (kBM * kChunksPerRow + kThreads - 1) / kThreads;  // 16-byte copies per thread
  static constexpr int kCopiesB = (kBN * kChunksPerRow + kThreads - 1) / kThreads;
  static constexpr int kCopies = kCopiesA + kCopiesB;
  static constexpr int kRowStep = kThreads / kChunksPerRow;  // rows between one thread's successive chunks
  static constexpr int kRasterGroupM = 8;                    // M tiles walked together so their B tiles stay in L2

  static_assert(kBK == 32 || kBK == 64 || kBK == 128, "BK must be 32, 64 or 128 bytes");
  static_assert(kBM % (16 * kWarpsM) == 0, "BM must be a multiple of 16 * warps_m");
  static_assert(kBN % (16 * kWarpsN) == 0, "BN must be a multiple of 16 * warps_n (ldmatrix.x4 loads two n8)");
  static_assert(kThreads <= 1024, "at most 1024 threads");
  static_assert(kStages >= 2, "a pipeline needs at least 2 stages");
  static_assert(kSplitK >= 1 && (kSplitK - 1) * kKTilesPerSplit < kKTiles, "every split needs a K tile");
  static_assert(kSmemBytes <= ArchLimits::kMaxSmemOptIn,
                "shared-memory budget exceeds this architecture's opt-in limit");
  static_assert((kBM * kChunksPerRow) % 8 == 0 && (kBN * kChunksPerRow) % 8 == 0, "swizzle works on 128-byte lines");

  // Byte offset of 16-byte chunk kc of row r inside one operand tile. Chunks are numbered row-major and grouped in
  // 128-byte lines; within a line the chunk index is XORed with the line number. NOTE: ldmatrix reads 8 rows at the
  // same kc; for BK = 32/64/128 those 8 rows span 2/4/8 lines and the XOR puts them in 8 distinct 16-byte bank
  // groups, so each ldmatrix phase is conflict-free; a warp's cp.async of 8 consecutive chunks fills one line.
  static __device__ __forceinline__ u32 swizzle(int r, int kc) {
    const int c = r * kChunksPerRow + kc;
    return (u32)(((c & ~7) | ((c & 7) ^ ((c >> 3) & 7))) << 4);
  }

  // This thread's share of the copies: chunk i (of kCopiesA for A, kCopiesB for B) is 16-byte chunk
  // i * kThreads + tid of the operand tile, i.e. row i * kRowStep + tid / kChunksPerRow, byte column
  // (tid % kChunksPerRow) * 16 of the k tile. `a` and `b` address this thread's chunk 0 of k tile 0; rows_a and rows_b
  // count the rows that exist from its row on (chunk i is zero-filled unless i * kRowStep < rows_*).
  struct Operands {
    const u8* a;
    const u8* b;
    i64 lda, ldb;
    int rows_a, rows_b;
    int gk0;   // K byte offset of this thread's chunks within a k tile
    u32 sdst;  // shared-memory offset of this thread's chunk 0 within an operand tile
  };

  // Hides a value from the compiler's loop-invariant code motion: every chunk address is recomputed from it once
  // per k tile (a few integer ops) instead of being kept live across the mainloop for all copies (~3 registers per
  // copy, which the double-buffered fragments cannot spare on the large tiles).
  static __device__ __forceinline__ const u8* opaque(const u8* p) {
    asm volatile("" : "+l"(p));
    return p;
  }
  static __device__ __forceinline__ i64 opaque(i64 v) {
    asm volatile("" : "+l"(v));
    return v;
  }
  static __device__ __forceinline__ int opaque(int v) {
    asm volatile("" : "+r"(v));
    return v;
  }
  static __device__ __forceinline__ u32 opaque(u32 v) {
    asm volatile("" : "+r"(v));
    return v;
  }

  // Copy i of this thread for one operand tile (ROWS x BK) into the stage's tile at `tile`; g addresses the chunk in
  // global memory. Zero-filled when the row does not exist or the copy is not live (a k tile past this CTA's range
  // or, on the vector path, past K: the copy still runs, reading nothing, so the caller needs no branch around it).
  // kVec: one cp.async; else through registers (the path for K % 16 != 0 or misaligned operands): one or two
  // aligned 16-byte reads realigned in registers, the bytes past K zeroed (ld_global_realigned16).
  template <int kRows, bool kVec>
  static __device__ __forceinline__ void copy_chunk(int i, u32 tile, const u8* g, u32 sdst, int rows_left, int gk,
                                                    bool live) {
    constexpr int kTotal = kRows * kChunksPerRow;
    const int idx = i * kThreads + (int)threadIdx.x;
    if (kTotal % kThreads == 0 || idx < kTotal) {
      const bool ok = live && i * kRowStep < rows_left;
      // NOTE: with a multiple of 64 threads, copy i is copy 0 moved by whole 8-line swizzle periods (an immediate).
      const u32 dst = tile + (kThreads % 64 == 0 ? sdst + (u32)(i * kThreads * 16)
                                                 : swizzle(idx / kChunksPerRow, idx % kChunksPerRow));
      if (kVec) {
        // NOTE: with a source size of 0, cp.async reads nothing, so g need not be a valid address then.
        cp_async_16(dst, g, ok ? 16 : 0);
      } else {
        // With K % 16 == 0 (a misaligned operand on an otherwise vector kernel) a chunk is all in K or all out;
        // else the last chunk of a row holds K % 16 bytes.
        const int n = ok ? min_i(16, kK - gk) : 0;
        V4 v{0u, 0u, 0u, 0u};
        if (n > 0) v = ld_global_realigned16(g, n);
        st_shared_v4(dst, v);
      }
    }
  }

  // This thread's copies of one k tile: the global addresses of its next A and B copies (advanced as they are
  // issued, one 64-bit add each, rather than kept for every copy), the per-copy strides, and whether it is live.
  struct KTileCopies {
    const u8* a;
    const u8* b;
    i64 step_a, step_b;
    int gk;
    bool live;
  };
  template <bool kVec>
  static __device__ __forceinline__ KTileCopies k_tile_copies(const Operands& op, int kt, bool in_range) {
    KTileCopies c;
    c.a = opaque(op.a + kt * kBK);
    c.b = opaque(op.b + kt * kBK);
    c.step_a = opaque(op.lda * kRowStep);
    c.step_b = opaque(op.ldb * kRowStep);
    c.gk = kt * kBK + op.gk0;
    c.live = in_range && (!kVec || kK % kBK == 0 || c.gk < kK);
    return c;
  }

  // Copies [lo, hi) of this thread's kCopies for one k tile into the stage at st (A's copies first, then B's), where
  // hi - lo <= kSpan. The bounds are constants once the caller's loops unroll, so this becomes straight-line code
  // (kSpan bounds what the compiler unrolls before folding). Calls for one k tile must cover 0 .. kCopies - 1 in
  // order: they advance c's addresses.
  template <bool kVec, int kSpan>
  static __device__ __forceinline__ void copy_range(int lo, int hi, u32 st, const Operands& op, KTileCopies& c) {
#pragma unroll
    for (int q = 0; q < kSpan; ++q) {
      const int j = lo + q;
      if (j >= hi) continue;
      if (j < kCopiesA) {
        copy_chunk<kBM, kVec>(j, st, c.a, op.sdst, op.rows_a, c.gk, c.live);
        c.a = opaque(c.a + c.step_a);
      } else {
        copy_chunk<kBN, kVec>(j - kCopiesA, st + kStageBytesA, c.b, op.sdst, op.rows_b, c.gk, c.live);
        c.b = opaque(c.b + c.step_b);
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

  // This warp's ldmatrix addresses for k step 0 of the stage at st (A then B); fragment mi (nj) of k step ks is at
  // addr ^ (ks << 5) + mi (nj) * 16 * BK (see load_fragments).
  static __device__ __forceinline__ void fragment_addrs(u32 st, int warp_m, int warp_n, int lane, u32& fa, u32& fb) {
    // matrices: (rows 0-7, k 0-15), (rows 8-15, k 0-15), (rows 0-7, k 16-31), (rows 8-15, k 16-31)
    fa = st + swizzle(warp_m * kWarpTileM + (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
    // matrices: (n 0-7, k 0-15), (n 0-7, k 16-31), (n 8-15, k 0-15), (n 8-15, k 16-31)
    fb = st + kStageBytesA + swizzle(warp_n * kWarpTileN + (lane & 7) + (lane >> 4) * 8, (lane >> 3) & 1);
  }

  // This warp's fragments of k step ks (32 bytes of K) from the addresses fragment_addrs gave for the stage.
  // Fragment layouts (PTX ISA, m16n8k32 .s8): A reg j: row g + 8 * (j & 1), k bytes 16 * (j >> 1) + 4 * t .. +3;
  // B reg j: n = g, k bytes 16 * j + 4 * t .. +3; with g = lane / 4, t = lane % 4. ldmatrix.x4 matrix i is addressed
  // by lanes 8i..8i+7 (one row each) and lands in register i as row lane / 4, bytes 4 * (lane % 4): exactly the
  // fragment when matrices are ordered as in fragment_addrs.
  // NOTE: the swizzle XORs the chunk index (2 * ks + 0/1) with a row-derived value, and 2 * ks only touches chunk
  // bits 1-2, so k step ks is k step 0 with address bits 5-6 flipped (stage bases are 128-byte aligned); with BK >= 64
  // 16 rows are a whole number of 8-line swizzle periods, so fragment mi (nj) is a constant offset away (immediates).
  // BK = 32 has one k step but a 4-line period over 16 rows, so it recomputes the swizzle per fragment.
  static __device__ __forceinline__ void load_fragments(u32 fa, u32 fb, int ks, u32 (&af)[kMI][4], u32 (&bf)[kNI][2],
                                                        u32 st, int warp_m, int warp_n, int lane) {
    constexpr bool kPeriodic = kChunksPerRow >= 4;
    const u32 a0 = fa ^ (u32)(ks << 5);
    const u32 b0 = fb ^ (u32)(ks << 5);
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi) {
      const u32 addr =
          kPeriodic ? a0 + mi * 16 * kBK
                    : st + swizzle(warp_m * kWarpTileM + mi * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
      ldmatrix_x4(addr, af[mi][0], af[mi][1], af[mi][2], af[mi][3]);
    }
#pragma unroll
    for (int nj = 0; nj < kNI / 2; ++nj) {
      const u32 addr = kPeriodic
                           ? b0 + nj * 16 * kBK
                           : st + kStageBytesA +
                                 swizzle(warp_n * kWarpTileN + nj * 16 + (lane & 7) + (lane >> 4) * 8, (lane >> 3) & 1);
      ldmatrix_x4(addr, bf[2 * nj][0], bf[2 * nj][1], bf[2 * nj + 1][0], bf[2 * nj + 1][1]);
    }
  }

  // The multistage pipeline over this CTA's nk k tiles (from kt_begin): acc += A * B^T. kSteps = BK / 32 mma k steps
  // per k tile; k tile i lives in stage i % kStages; k tile i + kStages - 1 is copied while k tile i is multiplied,
  // in kGroups copy groups interleaved between the mma rows of k steps 0 .. kGroups - 1, then committed.
  // kPrefetch (the vector path) keeps two fragment buffers, loading k step ks + 1 before the mma's of k step ks:
  //   at the start of k step kSteps - 1 it waits until at most kStages - 2 copy groups are pending (k tile i + 1 has
  //   landed for this thread) and __syncthreads (for every thread; and every warp has issued its last ldmatrix of
  //   k tile i - 1, whose stage the next copies overwrite), then loads k step 0 of k tile i + 1 while the mma's of
  //   k step kSteps - 1 (fragments loaded before the barrier) issue. So one barrier per k tile, and the next
  //   fragments are in flight while the current mma's issue, across the stage boundary too. With BK = 32 (one k
  //   step) the copies and their commit go first, before the wait.
  // Without kPrefetch (the byte path: its byte loads need the registers, and global latency dominates it) one
  // buffer, loaded just before its mma's, and the wait + barrier open each k tile (waiting for k tile i).
  // The copies run unconditionally (a copy past the CTA's k range is zero-filled and never read), so no branch
  // splits the mma stream.
  template <bool kVec>
  static __device__ __forceinline__ void mainloop(const Operands& op_in, int kt_begin, int nk, u32 s_base_in,
                                                  int warp_m_in, int warp_n_in, int lane_in, i32 (&acc)[kMI][kNI][4]) {
    // NOTE: hiding the inputs keeps the compiler from precomputing, outside the loop, every address term that is
    // invariant across k tiles (one register each, live through the loop): 44-48 bytes of spills on the 256x128x128
    // and 128x256x128 tiles without this.
    const Operands op{opaque(op_in.a),      opaque(op_in.b),      opaque(op_in.lda), opaque(op_in.ldb),
                      opaque(op_in.rows_a), opaque(op_in.rows_b), opaque(op_in.gk0), opaque(op_in.sdst)};
    const u32 s_base = opaque(s_base_in);
    const int warp_m = opaque(warp_m_in);
    const int warp_n = opaque(warp_n_in);
    const int lane = opaque(lane_in);
    constexpr bool kPrefetch = kVec;
    constexpr int kBufs = kPrefetch ? 2 : 1;
    constexpr int kGroups = (kVec && kKSteps > 1) ? kKSteps - 1 : 1;
    constexpr int kPerGroup = (kCopies + kGroups - 1) / kGroups;
    constexpr int kPerRow = (kPerGroup + kMI - 1) / kMI;  // the most copies issued next to one mma row
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      KTileCopies c = k_tile_copies<kVec>(op, kt_begin + s, s < nk);
      copy_range<kVec, kCopies>(0, kCopies, s_base + s * kStageBytes, op, c);
      cp_async_commit();
    }
    u32 af[kBufs][kMI][4];
    u32 bf[kBufs][kNI][2];
    if (kPrefetch) {
      cp_async_wait<kStages - 2>();
      __syncthreads();
      u32 fa, fb;
      fragment_addrs(s_base, warp_m, warp_n, lane, fa, fb);
      load_fragments(fa, fb, 0, af[0], bf[0], s_base, warp_m, warp_n, lane);
    }
    int read_stage = 0;
    int write_stage = kStages - 1;
#pragma unroll 1  // one copy of the (large) k-tile body: K is a constant, so a short loop would otherwise unroll fully
    for (int i = 0; i < nk; ++i) {
      KTileCopies next = k_tile_copies<kVec>(op, kt_begin + i + kStages - 1, i + kStages - 1 < nk);
      const u32 sw = s_base + write_stage * kStageBytes;
      u32 sr = s_base + read_stage * kStageBytes;
      u32 fa, fb;
      fragment_addrs(sr, warp_m, warp_n, lane, fa, fb);
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        const int cur = kPrefetch ? ks & 1 : 0;
        if (kPrefetch) {
          if (kKSteps == 1) {
            copy_range<kVec, kCopies>(0, kCopies, sw, op, next);
            cp_async_commit();
          }
          if (ks == kKSteps - 1) {
            cp_async_wait<kStages - 2>();
            __syncthreads();
            read_stage = read_stage + 1 == kStages ? 0 : read_stage + 1;
            write_stage = write_stage + 1 == kStages ? 0 : write_stage + 1;
            sr = s_base + read_stage * kStageBytes;
            fragment_addrs(sr, warp_m, warp_n, lane, fa, fb);
          }
          load_fragments(fa, fb, ks + 1 == kKSteps ? 0 : ks + 1, af[kBufs - 1 - cur], bf[kBufs - 1 - cur], sr, warp_m,
                         warp_n, lane);
        } else {
          if (ks == 0) {
            cp_async_wait<kStages - 2>();
            __syncthreads();
          }
          if (kKSteps == 1) {
            copy_range<kVec, kCopies>(0, kCopies, sw, op, next);
            cp_async_commit();
          }
          load_fragments(fa, fb, ks, af[0], bf[0], sr, warp_m, warp_n, lane);
        }
#pragma unroll
        for (int mi = 0; mi < kMI; ++mi) {
          if (kKSteps > 1 && ks < kGroups) {
            const int base = ks * kPerGroup;
            copy_range<kVec, kPerRow>(base + kPerGroup * mi / kMI, min_i(base + kPerGroup * (mi + 1) / kMI, kCopies),
                                      sw, op, next);
          }
#pragma unroll
          for (int ni = 0; ni < kNI; ++ni) mma(acc[mi][ni], af[cur][mi], bf[cur][ni]);
        }
        if (kKSteps > 1 && ks == kGroups - 1) cp_async_commit();
      }
      if (!kPrefetch) {
        read_stage = read_stage + 1 == kStages ? 0 : read_stage + 1;
        write_stage = write_stage + 1 == kStages ? 0 : write_stage + 1;
      }
      if (kPrefetch && kKSteps == 1) {  // one k step per tile: the next tile's fragments are in buffer 1
#pragma unroll
        for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
          for (int j = 0; j < 4; ++j) af[0][mi][j] = af[kBufs - 1][mi][j];
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni) {
          bf[0][ni][0] = bf[kBufs - 1][ni][0];
          bf[0][ni][1] = bf[kBufs - 1][ni][1];
        }
      }
    }
    cp_async_wait<0>();
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

  // Where this thread works: its warp's place in the tile, the CTA's tile and split, and the tile's valid rows.
  struct Place {
    int tid, lane, warp_m, warp_n, split;
    i64 m_tile, m0;
    int n_tile, n0, rows_a, rows_b;
  };
  // NOTE: run() computes this twice, before and after the mainloop, from special registers read through volatile
  // asm (which the compiler may not merge), so none of it is held in registers across the mainloop.
  static __device__ __forceinline__ u32 sreg_tid_x() {
    u32 v;
    asm volatile("mov.u32 %0, %%tid.x;" : "=r"(v));
    return v;
  }
  static __device__ __forceinline__ Place place(const GemmS8Params& p) {
    Place w;
    w.tid = (int)sreg_tid_x();
    w.lane = w.tid & 31;
    const int warp = w.tid >> 5;
    w.warp_m = warp / kWarpsN;
    w.warp_n = warp % kWarpsN;
    tile_coords(w.m_tile, w.n_tile);
    w.split = kSplitK > 1 ? (int)blockIdx.z : 0;
    w.m0 = w.m_tile * kBM;
    w.n0 = w.n_tile * kBN;
    w.rows_a = (int)min_i64((i64)p.m - w.m0, (i64)kBM);  // >= 1 by the grid's construction
    w.rows_b = min_i(kN - w.n0, kBN);
    return w;
  }

  static __device__ __forceinline__ void run(const GemmS8Params& p) {
    const Place w = place(p);
    // NOTE: the 16-byte cp.async path needs every chunk's global address 16-byte aligned; else bytes, zero-filled.
    const bool vec = kKVec && (((u64)p.a | (u64)p.b) & 15) == 0 && ((p.lda | p.ldb) & 15) == 0;
    if (vec)
      run_path<kKVec>(p, w);
    else if (kKVec)
      run_misaligned(p);
    else
      run_path<false>(p, w);
  }

  // NOTE: a kernel with K % 16 == 0 holds both paths; inlining the byte path next to the vector one makes ptxas spill
  // in both loops (60-90 bytes on 256x128x128, though each alone fits), so this rare fallback (misaligned operands)
  // is a real call with its own register allocation. Nothing is live in the caller across it.
  static __device__ __noinline__ void run_misaligned(const GemmS8Params& p) { run_path<false>(p, place(p)); }

  template <bool kVec>
  static __device__ __forceinline__ void run_path(const GemmS8Params& p, const Place& w) {
    extern __shared__ __attribute__((aligned(128))) u8 smem[];
    i32 acc[kMI][kNI][4];
#pragma unroll
    for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
      for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[mi][ni][j] = 0;
    {
      const u8* a = (const u8*)p.a + w.m0 * p.lda;
      const u8* b = (const u8*)p.b + (i64)w.n0 * p.ldb;
      const int kt_begin = w.split * kKTilesPerSplit;
      const int nk = min_i(kKTiles - kt_begin, kKTilesPerSplit);
      const u32 s_base = smem_addr(smem);
      const int row_t = w.tid / kChunksPerRow;
      const int gk0 = (w.tid % kChunksPerRow) * 16;
      const Operands op{a + row_t * p.lda + gk0, b + row_t * p.ldb + gk0, p.lda, p.ldb,
                        w.rows_a - row_t,        w.rows_b - row_t,        gk0,   swizzle(row_t, w.tid % kChunksPerRow)};
      mainloop<kVec>(op, kt_begin, nk, s_base, w.warp_m, w.warp_n, w.lane, acc);
    }
    finish(p, acc);
  }

  // Split-K reduction (when kSplitK > 1) and the epilogue.
  static __device__ __forceinline__ void finish(const GemmS8Params& p, i32 (&acc)[kMI][kNI][4]) {
    extern __shared__ __attribute__((aligned(128))) u8 smem[];
    const Place w = place(p);
    const int tid = w.tid;
    if (kSplitK > 1) {
      // Publish this split's partial tile, count arrivals; only the last CTA of the tile continues.
      const i64 num_tiles = (i64)gridDim.x * gridDim.y;
      const i64 tile_id = w.m_tile * gridDim.y + w.n_tile;
      i32* ws = (i32*)p.workspace;
      i32* mine = ws + ((i64)w.split * num_tiles + tile_id) * (i64)(kThreads * kAccPerThread);
#pragma unroll
      for (int mi = 0; mi < kMI; ++mi)
#pragma unroll
        for (int ni = 0; ni < kNI; ++ni)
#pragma unroll
          for (int j = 0; j < 4; ++j)
            st_global_cg_s32(mine + ((mi * kNI + ni) * 4 + j) * kThreads + tid, acc[mi][ni][j]);
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
        if (s == w.split) continue;
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
    epilogue(p, acc, w.m0, w.rows_a, w.n0, w.warp_m, w.warp_n, w.lane);
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

// Hopper (sm_90a) int8 GEMM: C[M, N] = epilogue(A[M, K] . B[N, K]^T) with both operands K-major. TMA loads (128-byte
// swizzle) feed a kStages-deep mbarrier pipeline; one producer warp group issues the copies, one or two consumer warp
// groups run wgmma.mma_async (s32 += s8 x s8, both operands from shared memory) and the fused f32 epilogue
// (common.cuh's EpilogueMath, the arithmetic the sm80 family shares). The grid is persistent: each CTA walks work
// units (tile x K-split) strided by gridDim.x, in a grouped order so that concurrently running CTAs share operand
// tiles in L2. With kSwap the weight rows fill wgmma's 64-row M side and the tokens become wgmma's N (decode shapes);
// split-K partials meet in an int32 workspace and the last arriving warp group of a tile reduces them in a fixed
// order and runs the epilogue. With kPingPong the two consumers own alternate tiles and take turns on the tensor
// cores, so epilogues hide under main loops; with kCluster = 2 CTA pairs on adjacent token tiles share the weight
// tile, each loading half of it multicast into both (docs/HOPPER_GEMM.md).
// Written on common.cuh (qjitk:: types, conversions, explicitly rounded arithmetic) and gemm_params.h (the parameter
// block, shared with the host), which codegen pastes in front of it; no include directives, NVRTC compiles it with
// no include path. Codegen appends the wgmma wrappers for the chosen N (their operand lists are long) and the
// extern "C" entry point.
namespace qjitk {

// ---- named constants ------------------------------------------------------------------------------------------
struct Sm90 {
  static constexpr int kWarpGroupThreads = 128;  // 4 warps issue one wgmma together
  static constexpr int kWarpsPerGroup = kWarpGroupThreads / 32;
  // setmaxnreg budgets with two consumers: 128 x 40 + 256 x 232 = 384 x 168, the launch allotment at 1 CTA/SM.
  static constexpr int kProducerRegs = 40;
  static constexpr int kConsumerRegs = 232;
  // Named barriers (id 0 is __syncthreads): one per consumer warp group for its epilogue / split-K handshakes, and
  // one per consumer for the ping-pong hand-over of the tensor cores (bar.arrive by one, bar.sync by the other).
  static constexpr int kConsumerBarrier0 = 1;  // + consumer
  static constexpr int kPingPongBarrier0 = 3;  // + consumer
  static constexpr int kAlignSlack = 1024;     // dynamic smem is rounded up to 1024 bytes inside the kernel
};

// ---- PTX wrappers: mbarrier, TMA, clusters, wgmma, register budgets, named barriers ---------------------------
__device__ __forceinline__ void mbar_init(u32 bar, u32 count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_wait(u32 bar, u32 parity) {
  u32 done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
__device__ __forceinline__ void mbar_arrive(u32 bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_arrive_expect_tx(u32 bar, u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
}
// NOTE: clang-format would break these PTX operand lists mid-operand.
// clang-format off
// 2-D tile copy global -> shared; rows outside the tensor (M/N tails) and columns past K arrive as zeros.
__device__ __forceinline__ void tma_load_2d(u32 dst, const void* tmap, u32 bar, i32 k, i32 row) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
      ::"r"(dst), "l"(tmap), "r"(k), "r"(row), "r"(bar) : "memory");
}
// The same copy multicast to every CTA in cta_mask: each receives the box at the same shared-memory offset and its
// own mbarrier at `bar`'s offset is credited with the bytes.
__device__ __forceinline__ void tma_load_2d_multicast(u32 dst, const void* tmap, u32 bar, i32 k, i32 row,
                                                      u16 cta_mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
      " [%0], [%1, {%2, %3}], [%4], %5;"
      ::"r"(dst), "l"(tmap), "r"(k), "r"(row), "r"(bar), "h"(cta_mask) : "memory");
}
// clang-format on
__device__ __forceinline__ u32 cluster_ctarank() {
  u32 r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
// Arrive on the mbarrier at the same shared-memory offset in CTA `rank` of this cluster. NOTE: the default
// (.release, .cta) semantics on purpose: an explicit .release.cluster compiles to MEMBAR.ALL.GPU before every arrive,
// which made the cluster kernels 1.5-2.8x slower on an H200. The arrive only says "my wgmma reads of this stage are
// complete" (wgmma.wait_group has returned); no data written by this thread has to become visible to the peer.
// clang-format off
__device__ __forceinline__ void mbar_arrive_cluster(u32 bar, u32 rank) {
  asm volatile(
      "{\n .reg .b32 remote;\n mapa.shared::cluster.u32 remote, %0, %1;\n"
      " mbarrier.arrive.shared::cluster.b64 _, [remote];\n}"
      ::"r"(bar), "r"(rank) : "memory");
}
// clang-format on
__device__ __forceinline__ void prefetch_tmap(const void* tmap) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(tmap) : "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegs));
}
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegs));
}
__device__ __forceinline__ void named_barrier(u32 id, u32 threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_arrive(u32 id, u32 threads) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
// Shared-space address of a generic pointer into shared memory (the intrinsic lets the compiler fold offsets).
__device__ __forceinline__ u32 shared_addr(const void* p) { return static_cast<u32>(__cvta_generic_to_shared(p)); }
// L1-bypassing loads for data other CTAs wrote during this launch (split-K partials).
__device__ __forceinline__ void ld_global_cg_v4_s32(const i32* p, i32 (&v)[4]) {
  asm volatile("ld.global.cg.v4.s32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v[0]), "=r"(v[1]), "=r"(v[2]), "=r"(v[3])
               : "l"(p)
               : "memory");
}

// wgmma shared-memory matrix descriptor for a K-major tile written by TMA with 128-byte swizzle: rows of 128 bytes,
// 8-row (1024-byte) swizzle atoms stacked along M/N. Bits 0-13 start address >> 4, 16-29 leading byte offset >> 4
// (unused for swizzled K-major; 1 by convention), 32-45 stride byte offset >> 4 (1024 bytes between 8-row groups),
// 49-51 base offset (0: atoms are 1024-byte aligned), 62-63 swizzle mode (1 = 128B).
__device__ __forceinline__ u64 smem_desc_k128b(u32 smem_addr) {
  return static_cast<u64>((smem_addr >> 4) & 0x3FFFu) | (1ull << 16) | (64ull << 32) | (1ull << 62);
}

// ---- output types ---------------------------------------------------------------------------------------------
// Two adjacent outputs as the epilogue produces them: their storage bits in column order (lo = first column).
struct OutPair {
  u64 lo, hi;  // f64: one value each; f32: lo holds both; f16/bf16: lo holds both in its low 32 bits
};
// Everything the epilogue does that depends on the output type: its size, the type it computes in (and the bias is
// widened to: EpilogueMath's), loading a bias element, packing two results, storing one element's bits, and unpacking element e of
// a staged 16-byte vector.
template <class OutT>
struct Sm90Out;
template <>
struct Sm90Out<f16> {
  typedef EpilogueMath<f16>::Acc Acc;
  static constexpr int kBytes = 2;
  static __device__ __forceinline__ Acc load_bias(const void* bias, int n) {
    return EpilogueMath<f16>::widen(static_cast<const f16*>(bias)[n]);
  }
  static __device__ __forceinline__ OutPair pack(Acc v0, Acc v1) {
    OutPair r;
    r.lo = static_cast<u32>(EpilogueMath<f16>::round(v0).bits) |
           (static_cast<u32>(EpilogueMath<f16>::round(v1).bits) << 16);
    r.hi = 0;
    return r;
  }
  static __device__ __forceinline__ u64 first(const OutPair& r) { return r.lo & 0xFFFFu; }
  static __device__ __forceinline__ u64 second(const OutPair& r) { return (r.lo >> 16) & 0xFFFFu; }
  static __device__ __forceinline__ void stage_pair(u8* dst, const OutPair& r) {
    *reinterpret_cast<u32*>(dst) = static_cast<u32>(r.lo);
  }
  static __device__ __forceinline__ u64 element(const u32 (&w)[4], int e) {
    return (w[e >> 1] >> (16 * (e & 1))) & 0xFFFFu;
  }
  static __device__ __forceinline__ void store(u8* dst, u64 bits) {
    *reinterpret_cast<u16*>(dst) = static_cast<u16>(bits);
  }
};
template <>
struct Sm90Out<bf16> : Sm90Out<f16> {
  static __device__ __forceinline__ Acc load_bias(const void* bias, int n) {
    return EpilogueMath<bf16>::widen(static_cast<const bf16*>(bias)[n]);
  }
  static __device__ __forceinline__ OutPair pack(Acc v0, Acc v1) {
    OutPair r;
    r.lo = static_cast<u32>(EpilogueMath<bf16>::round(v0).bits) |
           (static_cast<u32>(EpilogueMath<bf16>::round(v1).bits) << 16);
    r.hi = 0;
    return r;
  }
};
template <>
struct Sm90Out<float> {
  typedef EpilogueMath<float>::Acc Acc;
  static constexpr int kBytes = 4;
  static __device__ __forceinline__ Acc load_bias(const void* bias, int n) {
    return static_cast<const float*>(bias)[n];
  }
  static __device__ __forceinline__ OutPair pack(Acc v0, Acc v1) {
    OutPair r;
    r.lo = static_cast<u64>(__float_as_uint(v0)) | (static_cast<u64>(__float_as_uint(v1)) << 32);
    r.hi = 0;
    return r;
  }
  static __device__ __forceinline__ u64 first(const OutPair& r) { return r.lo & 0xFFFFFFFFull; }
  static __device__ __forceinline__ u64 second(const OutPair& r) { return r.lo >> 32; }
  static __device__ __forceinline__ void stage_pair(u8* dst, const OutPair& r) { *reinterpret_cast<u64*>(dst) = r.lo; }
  static __device__ __forceinline__ u64 element(const u32 (&w)[4], int e) { return w[e]; }
  static __device__ __forceinline__ void store(u8* dst, u64 bits) {
    *reinterpret_cast<u32*>(dst) = static_cast<u32>(bits);
  }
};
template <>
struct Sm90Out<double> {
  typedef EpilogueMath<double>::Acc Acc;
  static constexpr int kBytes = 8;
  static __device__ __forceinline__ Acc load_bias(const void* bias, int n) {
    return static_cast<const double*>(bias)[n];
  }
  static __device__ __forceinline__ OutPair pack(Acc v0, Acc v1) {
    OutPair r;
    r.lo = static_cast<u64>(__double_as_longlong(v0));
    r.hi = static_cast<u64>(__double_as_longlong(v1));
    return r;
  }
  static __device__ __forceinline__ u64 first(const OutPair& r) { return r.lo; }
  static __device__ __forceinline__ u64 second(const OutPair& r) { return r.hi; }
  static __device__ __forceinline__ void stage_pair(u8* dst, const OutPair& r) {
    *reinterpret_cast<u64*>(dst) = r.lo;
    *reinterpret_cast<u64*>(dst + 8) = r.hi;
  }
  static __device__ __forceinline__ u64 element(const u32 (&w)[4], int e) {
    return w[2 * e] | (static_cast<u64>(w[2 * e + 1]) << 32);
  }
  static __device__ __forceinline__ void store(u8* dst, u64 bits) { *reinterpret_cast<u64*>(dst) = bits; }
};

// An output element's bits from the staging buffer (2-, 4- or 8-byte aligned as its size).
template <int kBytes>
__device__ __forceinline__ u64 load_bits(const u8* src) {
  if (kBytes == 2) return *reinterpret_cast<const u16*>(src);
  if (kBytes == 4) return *reinterpret_cast<const u32*>(src);
  return *reinterpret_cast<const u64*>(src);
}

// ---- compile-time configuration ---------------------------------------------------------------------------
// P = the operand on wgmma's M side (A, or B with kSwap), Q = the one on wgmma's N side.
template <class OutT_, bool kBias_, bool kPerToken_, int kN_, int kK_, int kConsumers_, int kConsumerRows_, int kQCols_,
          int kStages_, bool kSwap_, int kSplitK_, int kGroup_, bool kPingPong_, int kCluster_>
struct Sm90Cfg {
  typedef OutT_ OutT;
  typedef Sm90Out<OutT> Out;
  static constexpr bool kBias = kBias_;
  static constexpr bool kPerToken = kPerToken_;
  static constexpr int kN = kN_;
  static constexpr int kK = kK_;
  static constexpr int kConsumers = kConsumers_;
  static constexpr int kConsumerRows = kConsumerRows_;  // 64 or 128 rows of the P tile per consumer warp group
  static constexpr int kSubTiles = kConsumerRows / 64;  // m64 wgmmas per consumer per k-step
  // Ping-pong: each consumer owns a whole tile and the consumers alternate; cooperative: they split one tile's rows.
  static constexpr bool kPingPong = kPingPong_;
  static constexpr int kPRows = kPingPong ? kConsumerRows : kConsumers * kConsumerRows;
  static constexpr int kStageUsers = kPingPong ? 1 : kConsumers;  // consumer warp groups reading each stage
  static constexpr int kQCols = kQCols_;                          // wgmma N
  // Thread-block cluster of kCluster CTAs on adjacent P tiles sharing one Q tile: each loads its own P tile and
  // 1/kCluster of the Q tile, multicast into every CTA of the cluster (halves the Q traffic out of L2 for 2).
  static constexpr int kCluster = kCluster_;
  static constexpr int kQLoadRows = kQCols / kCluster;
  static constexpr int kStages = kStages_;
  static constexpr bool kSwap = kSwap_;
  static constexpr int kSplitK = kSplitK_;
  static constexpr int kGroup = kGroup_;  // P tiles per rasterisation group
  static constexpr int kBK = 128;         // bytes of K per stage = one 128B swizzle row
  static constexpr int kKBlocks = (kK + kBK - 1) / kBK;
  static constexpr int kThreads = Sm90::kWarpGroupThreads * (kConsumers + 1);
  static constexpr int kAccRegs = kQCols / 2;  // s32 accumulators per thread per m64 subtile
  static constexpr int kOutBytes = Out::kBytes;
  static constexpr int kChunkCols = 128 / kOutBytes;          // output columns staged per 128-byte row chunk
  static constexpr int kStageRowBytes = 128 + 8 * kOutBytes;  // NOTE: padding keeps fragment writes bank-conflict free
  static constexpr int kPStageBytes = kPRows * kBK;
  static constexpr int kQStageBytes = kQCols * kBK;
  static constexpr int kEpiBytes = kSwap ? 0 : kConsumers * 64 * kStageRowBytes;
  static_assert(kConsumerRows == 64 || kConsumerRows == 128, "a consumer owns 64 or 128 rows");
  static_assert(kConsumers == 1 || kConsumers == 2, "one or two consumer warp groups");
  static_assert(kQCols % 8 == 0 && kQCols >= 8 && kQCols <= 256, "wgmma N must be a multiple of 8 in [8, 256]");
  static_assert(kPRows <= 256, "TMA boxes hold at most 256 rows");
  static_assert(kSwap || kQCols % kChunkCols == 0, "the staged epilogue works in 128-byte column chunks");
  static_assert(kSubTiles * kAccRegs <= 128, "accumulators must fit the consumer register budget");
  static_assert(kSplitK >= 1 && kSplitK <= kKBlocks, "each K split needs at least one 128-wide k-block");
  static_assert(!kPingPong || (kConsumers == 2 && kSplitK == 1 && !kSwap),
                "ping-pong: two consumers, no split, no swap");
  static_assert(kCluster == 1 || (kCluster == 2 && kSplitK == 1 && !kSwap && kQLoadRows % 8 == 0),
                "clusters: 2 CTAs, no split, no swap, whole 8-row swizzle atoms per CTA's share of the Q tile");
};

// ---- shared memory ----------------------------------------------------------------------------------------
// The layout, in order: the stage ring (kStages P tiles, then kStages Q tiles), the epilogue's staging rows (none
// with kSwap), the full and empty mbarriers of each stage, and one split-K "last arrival" flag per consumer. The
// kernel rounds the dynamic buffer up to 1024 bytes first (the 128B swizzle and the descriptors' base offset 0 need
// 1024-byte aligned stage buffers), so the launch asks for sizeof + Sm90::kAlignSlack; codegen's
// gemm_s8_sm90_smem_bytes must agree, which the rendered source static_asserts.
template <class C>
struct Sm90StageRing {
  u8 p[C::kStages][C::kPStageBytes];
  u8 q[C::kStages][C::kQStageBytes];
};
template <int kBytes>
struct Sm90EpilogueStaging {
  u8 rows[kBytes];  // consumer c's 64 padded rows start at c * 64 * kStageRowBytes
  __device__ __forceinline__ u8* staging() { return rows; }
};
template <>
struct Sm90EpilogueStaging<0> {  // kSwap: none (an empty base takes no bytes)
  __device__ __forceinline__ u8* staging() { return nullptr; }
};
// An mbarrier object (8 bytes). NOTE: declared as two words, so that the struct's alignment stays 4 and sizeof adds
// no tail padding after a single consumer's flag; its 8-byte alignment comes from its place (asserted below).
struct Mbarrier {
  u32 words[2];
};
template <class C>
struct Sm90SharedStorage : Sm90StageRing<C>, Sm90EpilogueStaging<C::kEpiBytes> {
  Mbarrier full[C::kStages];   // the producer's arrive.expect_tx + the TMA bytes: the stage is loaded
  Mbarrier empty[C::kStages];  // every reading warp of every CTA in the cluster: the stage may be refilled
  int flags[C::kConsumers];    // split-K: "this warp group arrived last" for its tile
  static constexpr int kBarrierOffset = static_cast<int>(sizeof(Sm90StageRing<C>)) + C::kEpiBytes;
  static_assert(kBarrierOffset % 8 == 0, "mbarriers must be 8-byte aligned");
};
// The dynamic shared memory the kernel is launched with.
template <class C>
struct Sm90SmemBytes {
  static constexpr int kValue = static_cast<int>(sizeof(Sm90SharedStorage<C>)) + Sm90::kAlignSlack;
  static_assert(kValue <= ArchLimits::kMaxSmemOptIn, "shared memory exceeds what an sm_90 block may opt in to");
};

// The consumer / producer position in the stage ring: which stage, and the parity of its barriers' current phase.
template <int kStages>
struct PipelineState {
  int index = 0;
  u32 phase = 0;
  __device__ __forceinline__ void advance() {
    if (++index == kStages) {
      index = 0;
      phase ^= 1;
    }
  }
  // Steps over `blocks` k-blocks at once, blocks < 2 * kStages (the ping-pong consumer skipping the other's unit).
  __device__ __forceinline__ void advance(int blocks) {
    const int s = index + blocks;
    phase ^= static_cast<u32>((s / kStages) & 1);
    index = s % kStages;
  }
};

// Shared-space addresses of the stage ring and its barriers.
template <class C>
struct Sm90Stages {
  u32 p, q, full_bar, empty_bar;
  __device__ __forceinline__ explicit Sm90Stages(Sm90SharedStorage<C>& s)
      : p(shared_addr(s.p)),
        q(p + C::kStages * C::kPStageBytes),
        full_bar(shared_addr(s.full)),
        empty_bar(full_bar + static_cast<u32>(sizeof(Mbarrier)) * C::kStages) {}
  __device__ __forceinline__ u32 p_tile(int stage) const { return p + stage * C::kPStageBytes; }
  __device__ __forceinline__ u32 q_tile(int stage) const { return q + stage * C::kQStageBytes; }
  __device__ __forceinline__ u32 full(int stage) const { return full_bar + static_cast<u32>(sizeof(Mbarrier)) * stage; }
  __device__ __forceinline__ u32 empty(int stage) const {
    return empty_bar + static_cast<u32>(sizeof(Mbarrier)) * stage;
  }
};

template <int N>
struct Wgmma;  // codegen renders Wgmma<N>::mma for the N this kernel uses

// Work unit u -> (P tile, Q tile, K split). Splits of one tile are adjacent so their partials meet early; tiles
// go in groups of kGroup P tiles, Q-major inside a group, so CTAs running together share P and Q tiles in L2.
template <class C>
__device__ __forceinline__ void unit_coords(int u, int p_tiles, int q_tiles, int& pt, int& qt, int& split) {
  split = u % C::kSplitK;
  const int t = u / C::kSplitK;
  const int group_size = C::kGroup * q_tiles;
  const int g = t / group_size;
  const int first_p = g * C::kGroup;
  const int rows = min(p_tiles - first_p, C::kGroup);
  const int local = t - g * group_size;
  pt = first_p + local % rows;
  qt = local / rows;
}

// The persistent schedule: units (one Q tile for a kCluster-tall group of P tiles, times the K splits) walked by
// cluster, first_unit + i * unit_stride. NOTE: m is read through a volatile asm so that the consumers recompute this
// at each unit instead of keeping it live across the epilogue, where all registers but a few hold accumulators
// (keeping it cost ptxas a 20-byte spill on some variants).
struct Sm90Schedule {
  int p_groups, q_tiles, units, first_unit, unit_stride;
};
template <class C>
__device__ __forceinline__ Sm90Schedule sm90_schedule(const GemmS8Params& p) {
  int m;
  asm volatile("mov.b32 %0, %1;" : "=r"(m) : "r"(p.m));
  const int p_dim = C::kSwap ? C::kN : m;
  const int q_dim = C::kSwap ? m : C::kN;
  const int p_tiles = (p_dim + C::kPRows - 1) / C::kPRows;
  Sm90Schedule s;
  s.q_tiles = (q_dim + C::kQCols - 1) / C::kQCols;
  s.p_groups = (p_tiles + C::kCluster - 1) / C::kCluster;
  s.units = s.p_groups * s.q_tiles * C::kSplitK;
  s.first_unit = blockIdx.x / C::kCluster;
  s.unit_stride = gridDim.x / C::kCluster;
  return s;
}

template <class C>
__device__ __forceinline__ void split_range(int split, int& kb_begin, int& kb_end) {
  kb_begin = split * C::kKBlocks / C::kSplitK;
  kb_end = (split + 1) * C::kKBlocks / C::kSplitK;
}

// ---- epilogue -----------------------------------------------------------------------------------------------
template <class C>
__device__ __forceinline__ float sm90_a_scale(const GemmS8Params& p, int m) {
  if (C::kPerToken) return p.a_scale ? p.a_scale[m] : p.a_scale_value;
  return p.a_scale_value;
}

// Two outputs from their accumulators, scales and bias values (ignored without bias), packed in storage order. The
// arithmetic is common.cuh's EpilogueMath, the contract the sm80 family shares: (a_s * b_s) * acc (+ bias), each
// step rounded on its own (never an FMA), in f32 (f64 for f64 output), then one rounding to the output type.
template <class C>
__device__ __forceinline__ OutPair epilogue_pair_v(i32 acc0, i32 acc1, float as0, float as1, float bs0, float bs1,
                                                   typename C::Out::Acc b0, typename C::Out::Acc b1) {
  typedef EpilogueMath<typename C::OutT> M;
  typename M::Acc v0 = M::scale(as0, bs0, acc0);
  typename M::Acc v1 = M::scale(as1, bs1, acc1);
  if (C::kBias) {
    v0 = M::add_bias(v0, b0);
    v1 = M::add_bias(v1, b1);
  }
  return C::Out::pack(v0, v1);
}
template <class C>
__device__ __forceinline__ OutPair epilogue_pair(i32 acc0, i32 acc1, float as0, float as1, float bs0, float bs1,
                                                 const void* bias, int n0, int n1, bool ok0, bool ok1) {
  typedef typename C::Out::Acc A;
  const A b0 = C::kBias && ok0 ? C::Out::load_bias(bias, n0) : A(0);
  const A b1 = C::kBias && ok1 ? C::Out::load_bias(bias, n1) : A(0);
  return epilogue_pair_v<C>(acc0, acc1, as0, as1, bs0, bs1, b0, b1);
}

// One staged 128-byte chunk of an output row whose global start `dst` is not 16-byte aligned (an odd N row stride),
// stored by its 8 threads (v = 0..7) with 16-byte vectors anyway: with r = dst % 16, thread v >= 1 writes the aligned
// window of chunk bytes [16v - r, 16v - r + 16) gathered from the staging row (prmt over 32-bit shared loads), and the
// 16 bytes outside those windows (the head [0, 16 - r) and the tail [128 - r, 128)) are one element per thread. Bytes
// at or past `valid` (the row's end, N) are never written. Two store instructions per thread instead of eight.
template <class C>
__device__ __forceinline__ void store_chunk_realigned(u8* dst, const u8* srow, int valid, int v) {
  constexpr int kOb = C::kOutBytes;
  const int r = (int)(reinterpret_cast<u64>(dst) & 15);
  // Window v: chunk bytes [lo, lo + 16), 16-byte aligned in global memory (r == 0: the plain chunk split).
  const int lo = 16 * v - r;
  if (lo >= 0) {
    if (lo + 16 <= valid) {
      const int base = lo & ~3, shift = lo & 3;                  // shift: 0 or 2 (2-byte outputs), 0 otherwise
      const u32* w = reinterpret_cast<const u32*>(srow + base);  // NOTE: may read 4 bytes of the row's padding
      const u32 sel = 0x3210u + 0x1111u * (u32)shift;
      uint4 o;
      o.x = __byte_perm(w[0], w[1], sel);
      o.y = __byte_perm(w[1], w[2], sel);
      o.z = __byte_perm(w[2], w[3], sel);
      o.w = __byte_perm(w[3], w[4], sel);
      *reinterpret_cast<uint4*>(dst + lo) = o;
    } else {
#pragma unroll
      for (int e = 0; e < 16 / kOb; ++e) {  // the row's end (N) inside this window: element by element
        const int off = lo + e * kOb;
        if (off < valid) C::Out::store(dst + off, load_bits<kOb>(srow + off));
      }
    }
  }
  if (r != 0) {
    // The 16 bytes outside the windows: the head [0, 16 - r) and the tail [128 - r, 128), one element per thread.
    const int head = (16 - r) / kOb;
    for (int e = v; e < 16 / kOb; e += 8) {
      const int off = e < head ? e * kOb : 128 - r + (e - head) * kOb;
      if (off < valid) C::Out::store(dst + off, load_bits<kOb>(srow + off));
    }
  }
}

// Non-swapped tile: rows are tokens (m), columns are output channels (n). Each 64-row subtile goes through a
// padded shared-memory buffer one 128-byte column chunk at a time, so global stores are 16-byte vectors that cover
// whole 128-byte lines (row tails by element; an output row stride that is not a multiple of 16 bytes, as an odd N
// gives, realigns each chunk onto aligned 16-byte windows: store_chunk_realigned).
template <class C>
__device__ __forceinline__ void epilogue_staged(const GemmS8Params& p, i32 (&acc)[C::kSubTiles][C::kAccRegs], u8* stage,
                                                int m_base, int n_base, int tid, int bar_id) {
  const int warp = tid >> 5, lane = tid & 31;
  const int r0 = 16 * warp + (lane >> 2);
  const int cq = 2 * (lane & 3);
  const bool vec_ok = ((reinterpret_cast<u64>(p.c) | static_cast<u64>(p.ldc * C::kOutBytes)) & 15) == 0;
  constexpr int kVecElems = 16 / C::kOutBytes;
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
    const int m_sub = m_base + 64 * s;
    const int mr0 = m_sub + r0, mr1 = mr0 + 8;
    const float as0 = mr0 < p.m ? sm90_a_scale<C>(p, mr0) : 0.f;
    const float as1 = mr1 < p.m ? sm90_a_scale<C>(p, mr1) : 0.f;
#pragma unroll
    for (int chunk = 0; chunk < C::kQCols / C::kChunkCols; ++chunk) {
#pragma unroll
      for (int jj = 0; jj < C::kChunkCols / 8; ++jj) {
        const int j = chunk * (C::kChunkCols / 8) + jj;
        const int n0 = n_base + 8 * j + cq, n1 = n0 + 1;
        const bool ok0 = n0 < C::kN, ok1 = n1 < C::kN;
        const float bs0 = ok0 ? p.b_scale[n0] : 0.f, bs1 = ok1 ? p.b_scale[n1] : 0.f;
        const OutPair top =
            epilogue_pair<C>(acc[s][4 * j], acc[s][4 * j + 1], as0, as0, bs0, bs1, p.bias, n0, n1, ok0, ok1);
        const OutPair bot =
            epilogue_pair<C>(acc[s][4 * j + 2], acc[s][4 * j + 3], as1, as1, bs0, bs1, p.bias, n0, n1, ok0, ok1);
        u8* t = stage + r0 * C::kStageRowBytes + (8 * jj + cq) * C::kOutBytes;
        u8* b = t + 8 * C::kStageRowBytes;
        C::Out::stage_pair(t, top);
        C::Out::stage_pair(b, bot);
      }
      named_barrier(bar_id, Sm90::kWarpGroupThreads);
#pragma unroll
      for (int it = 0; it < 4; ++it) {
        const int row = 16 * it + (tid >> 3), v = tid & 7;
        const int m = m_sub + row;
        const int n_chunk = n_base + chunk * C::kChunkCols;
        const int n = n_chunk + v * kVecElems;
        const u8* srow = stage + row * C::kStageRowBytes;
        if (vec_ok) {
          const uint4 data = *reinterpret_cast<const uint4*>(srow + 16 * v);
          if (m < p.m && n < C::kN) {
            u8* dst = static_cast<u8*>(p.c) + (static_cast<i64>(m) * p.ldc + n) * C::kOutBytes;
            if (n + kVecElems <= C::kN) {
              *reinterpret_cast<uint4*>(dst) = data;
            } else {
              const u32 w[4] = {data.x, data.y, data.z, data.w};
#pragma unroll
              for (int e = 0; e < kVecElems; ++e) {
                if (n + e < C::kN) C::Out::store(dst + e * C::kOutBytes, C::Out::element(w, e));
              }
            }
          }
        } else if (m < p.m && n_chunk < C::kN) {
          store_chunk_realigned<C>(static_cast<u8*>(p.c) + (static_cast<i64>(m) * p.ldc + n_chunk) * C::kOutBytes, srow,
                                   min_i(C::kN - n_chunk, C::kChunkCols) * C::kOutBytes, v);
        }
      }
      named_barrier(bar_id, Sm90::kWarpGroupThreads);
    }
  }
}

// Swapped tile: rows are output channels (n), columns are tokens (m). Decode outputs are tiny (M <= 64), so
// direct predicated element stores cost nothing next to streaming the weights.
template <class C>
__device__ __forceinline__ void epilogue_direct(const GemmS8Params& p, i32 (&acc)[C::kSubTiles][C::kAccRegs],
                                                int n_base, int m_base, int tid) {
  const int warp = tid >> 5, lane = tid & 31;
  const int r0 = 16 * warp + (lane >> 2);
  const int cq = 2 * (lane & 3);
  // NOTE: every scale and bias this thread needs is loaded before its first store. The compiler must assume the
  // output may alias them, so loads placed between stores are reissued after each store, one L2 round trip at a
  // time: the per-token scales of a 64-token tile cost 2 us of a 12.6 us decode GEMM that way (H200, ncu, session 4).
  float as[C::kQCols / 8][2];
#pragma unroll
  for (int j = 0; j < C::kQCols / 8; ++j) {
    const int m0 = m_base + 8 * j + cq;
    as[j][0] = m0 < p.m ? sm90_a_scale<C>(p, m0) : 0.f;
    as[j][1] = m0 + 1 < p.m ? sm90_a_scale<C>(p, m0 + 1) : 0.f;
  }
  typedef typename C::Out::Acc B;
  float bs[C::kSubTiles][2];
  B bv[C::kSubTiles][2];
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int n = n_base + 64 * s + r0 + 8 * half;
      const bool ok = n < C::kN;
      bs[s][half] = ok ? p.b_scale[n] : 0.f;
      bv[s][half] = C::kBias && ok ? C::Out::load_bias(p.bias, n) : B(0);
    }
  }
  u8* c = static_cast<u8*>(p.c);
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int n = n_base + 64 * s + r0 + 8 * half;
      if (n >= C::kN) continue;
#pragma unroll
      for (int j = 0; j < C::kQCols / 8; ++j) {
        const int m0 = m_base + 8 * j + cq, m1 = m0 + 1;
        const OutPair r = epilogue_pair_v<C>(acc[s][4 * j + 2 * half], acc[s][4 * j + 2 * half + 1], as[j][0], as[j][1],
                                             bs[s][half], bs[s][half], bv[s][half], bv[s][half]);
        if (m0 < p.m) C::Out::store(c + (static_cast<i64>(m0) * p.ldc + n) * C::kOutBytes, C::Out::first(r));
        if (m1 < p.m) C::Out::store(c + (static_cast<i64>(m1) * p.ldc + n) * C::kOutBytes, C::Out::second(r));
      }
    }
  }
}

// Split-K: every warp group writes its int32 partial (coalesced: register vector j of all 128 threads is one
// contiguous 2 KiB run), then counts itself in; the last of the kSplitK arrivals adds the other partials in split
// order and goes on to the epilogue. Int32 sums are exact, so the result is bit-identical to split_k = 1.
// Returns true when this warp group must run the epilogue.
template <class C>
__device__ __forceinline__ bool split_k_reduce(const GemmS8Params& p, i32 (&acc)[C::kSubTiles][C::kAccRegs], int tile,
                                               int split, int consumer, int tid, int bar_id, volatile int* flag) {
  constexpr int kThreads = Sm90::kWarpGroupThreads;
  constexpr int kVecs = C::kSubTiles * C::kAccRegs / 4;
  constexpr int kSlotInts = kThreads * C::kSubTiles * C::kAccRegs;
  i32* ws = static_cast<i32*>(p.workspace);
  const i64 tile_slot = static_cast<i64>(tile) * C::kConsumers + consumer;
  i32* mine = ws + (tile_slot * C::kSplitK + split) * kSlotInts;
#pragma unroll
  for (int v = 0; v < kVecs; ++v) {
    const int s = (4 * v) / C::kAccRegs, r = (4 * v) % C::kAccRegs;
    *reinterpret_cast<int4*>(mine + (v * kThreads + tid) * 4) =
        make_int4(acc[s][r], acc[s][r + 1], acc[s][r + 2], acc[s][r + 3]);
  }
  __threadfence();
  named_barrier(bar_id, kThreads);
  if (tid == 0) {
    const int arrived = atomicAdd(p.tile_counters + tile_slot, 1);
    const bool last = arrived == C::kSplitK - 1;
    if (last) p.tile_counters[tile_slot] = 0;  // NOTE: re-armed for the next launch; no one else touches it now
    *flag = last ? 1 : 0;
  }
  named_barrier(bar_id, kThreads);
  const bool last = *flag != 0;
  named_barrier(bar_id, kThreads);  // the flag slot is rewritten by the next unit
  if (!last) return false;
  __threadfence();
#pragma unroll
  for (int s = 0; s < C::kSubTiles; ++s)
#pragma unroll
    for (int r = 0; r < C::kAccRegs; ++r) acc[s][r] = 0;
  for (int other = 0; other < C::kSplitK; ++other) {
    const i32* part = ws + (tile_slot * C::kSplitK + other) * kSlotInts;
#pragma unroll
    for (int v = 0; v < kVecs; ++v) {
      const int s = (4 * v) / C::kAccRegs, r = (4 * v) % C::kAccRegs;
      i32 x[4];
      ld_global_cg_v4_s32(part + (v * kThreads + tid) * 4, x);
      acc[s][r] += x[0];
      acc[s][r + 1] += x[1];
      acc[s][r + 2] += x[2];
      acc[s][r + 3] += x[3];
    }
  }
  return true;
}

// ---- the kernel body ---------------------------------------------------------------------------------------
template <class C>
__device__ __forceinline__ void gemm_s8_sm90(const GemmS8Sm90Params& prm, u8* smem_raw) {
  const GemmS8Params& p = prm.base;
  // NOTE: 128B-swizzled TMA tiles and the descriptors' base offset 0 need 1024-byte aligned stage buffers.
  Sm90SharedStorage<C>& smem = *reinterpret_cast<Sm90SharedStorage<C>*>(
      (reinterpret_cast<u64>(smem_raw) + (Sm90::kAlignSlack - 1)) & ~static_cast<u64>(Sm90::kAlignSlack - 1));
  const Sm90Stages<C> ring(smem);
  volatile int* flags = smem.flags;

  const void* tmap_p = C::kSwap ? static_cast<const void*>(prm.tma_b) : static_cast<const void*>(prm.tma_a);
  const void* tmap_q = C::kSwap ? static_cast<const void*>(prm.tma_a) : static_cast<const void*>(prm.tma_b);
  const int warp_group = threadIdx.x / Sm90::kWarpGroupThreads;
  const int rank = C::kCluster > 1 ? static_cast<int>(cluster_ctarank()) : 0;
  if (threadIdx.x == 0) {
    prefetch_tmap(tmap_p);
    prefetch_tmap(tmap_q);
    for (int s = 0; s < C::kStages; ++s) {
      mbar_init(ring.full(s), 1);  // the producer's arrive.expect_tx
      // One arrive per warp of each consumer reading the stage, in every CTA of the cluster: a stage is refilled
      // (in all of them at once, by the multicast) only when every reader everywhere is done with it.
      mbar_init(ring.empty(s), Sm90::kWarpsPerGroup * C::kStageUsers * C::kCluster);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  }
  // NOTE: with a cluster, the peer's barriers must be initialised before our first multicast or remote arrive.
  if (C::kCluster > 1)
    cluster_sync();
  else
    __syncthreads();
  // Programmatic dependent launch: the prologue above may overlap the tail of the kernel before this one on the
  // stream (qjit's quantize pass triggers early); nothing an earlier kernel wrote -- activations, per-token scales --
  // is read before this wait. Launched without the attribute, it returns at once.
  asm volatile("griddepcontrol.wait;" ::: "memory");

  // Work units are walked per cluster: unit u covers P tiles kCluster * pg + rank (one per CTA) and Q tile qt. A CTA
  // whose P tile lies past the end still loads its share of the Q tile for its peer; its rows are all masked.

  if (warp_group == 0) {
    // Producer: registers go to the consumers; one thread issues every copy. NOTE: with one consumer the
    // 256-thread CTA already gets 240 registers a thread, so there is nothing to move.
    if (C::kConsumers == 2) setmaxnreg_dec<Sm90::kProducerRegs>();
    if (threadIdx.x == 0) {
      PipelineState<C::kStages> st;
      const Sm90Schedule sc = sm90_schedule<C>(p);
      for (int u = sc.first_unit; u < sc.units; u += sc.unit_stride) {
        int pg, qt, split, kb_begin, kb_end;
        unit_coords<C>(u, sc.p_groups, sc.q_tiles, pg, qt, split);
        split_range<C>(split, kb_begin, kb_end);
        const int pt = pg * C::kCluster + rank;
        for (int kb = kb_begin; kb < kb_end; ++kb) {
          mbar_wait(ring.empty(st.index), st.phase ^ 1);  // a fresh barrier counts as released
          mbar_arrive_expect_tx(ring.full(st.index), C::kPStageBytes + C::kQStageBytes);
          tma_load_2d(ring.p_tile(st.index), tmap_p, ring.full(st.index), kb * C::kBK, pt * C::kPRows);
          if (C::kCluster == 1) {
            tma_load_2d(ring.q_tile(st.index), tmap_q, ring.full(st.index), kb * C::kBK, qt * C::kQCols);
          } else {
            tma_load_2d_multicast(ring.q_tile(st.index) + rank * C::kQLoadRows * C::kBK, tmap_q, ring.full(st.index),
                                  kb * C::kBK, qt * C::kQCols + rank * C::kQLoadRows,
                                  static_cast<u16>((1u << C::kCluster) - 1));
          }
          st.advance();
        }
      }
    }
  } else {
    // Consumers.
    if (C::kConsumers == 2) setmaxnreg_inc<Sm90::kConsumerRegs>();
    const int consumer = warp_group - 1;
    const int tid = threadIdx.x - Sm90::kWarpGroupThreads * warp_group;
    const int lane = tid & 31;
    const int bar_id = Sm90::kConsumerBarrier0 + consumer;
    i32 acc[C::kSubTiles][C::kAccRegs];
    PipelineState<C::kStages> st;
    // Hands a consumed stage back to the producer of every CTA in the cluster (each multicasts into it).
    auto release = [&](int s) {
      if (lane != 0) return;
      if (C::kCluster == 1) {
        mbar_arrive(ring.empty(s));
      } else {
        mbar_arrive(ring.empty(s));
#pragma unroll
        for (int r = 1; r < C::kCluster; ++r) mbar_arrive_cluster(ring.empty(s), (rank + r) % C::kCluster);
      }
    };
    // Ping-pong: the CTA's j-th unit belongs to consumer j % 2, and the main loops run strictly in unit order, handed
    // on through named barrier kPingPongBarrier0 + consumer (bar.arrive by the one finishing, bar.sync by the one
    // starting). NOTE: the order is what makes the parity waits safe: when unit j starts, unit j - 1 has consumed
    // every stage before it, so no full barrier this consumer waits on can be more than one phase behind.
    constexpr int kPingPongThreads = 2 * Sm90::kWarpGroupThreads;
    for (int local = 0;; ++local) {
      const Sm90Schedule sc = sm90_schedule<C>(p);
      const int u = sc.first_unit + local * sc.unit_stride;
      if (u >= sc.units) break;
      if (C::kPingPong && (local & 1) != consumer) {
        // The other consumer's unit: step over its k-blocks in the shared stage ring.
        st.advance(C::kKBlocks % (2 * C::kStages));
        continue;
      }
      int pg, qt, split, kb_begin, kb_end;
      unit_coords<C>(u, sc.p_groups, sc.q_tiles, pg, qt, split);
      split_range<C>(split, kb_begin, kb_end);
      const int pt = pg * C::kCluster + rank;
      if (C::kPingPong && local > 0)
        named_barrier(Sm90::kPingPongBarrier0 + consumer, kPingPongThreads);  // the other's main loop is issued
      int prev_stage = -1;
      for (int kb = kb_begin; kb < kb_end; ++kb) {
        mbar_wait(ring.full(st.index), st.phase);
        wgmma_fence();
        const u32 p_addr = ring.p_tile(st.index) + (C::kPingPong ? 0 : consumer * C::kConsumerRows * C::kBK);
        const u64 desc_q = smem_desc_k128b(ring.q_tile(st.index));
#pragma unroll
        for (int s = 0; s < C::kSubTiles; ++s) {
          const u64 desc_p = smem_desc_k128b(p_addr + s * 64 * C::kBK);
#pragma unroll
          for (int kk = 0; kk < C::kBK / 32; ++kk) {
            // +32 bytes of K per k32 step = +2 in the descriptor's address field (the swizzle is address-based).
            Wgmma<C::kQCols>::mma(acc[s], desc_p + 2 * kk, desc_q + 2 * kk, (kb > kb_begin || kk > 0) ? 1 : 0);
          }
        }
        wgmma_commit();
        wgmma_wait<1>();  // the previous stage's wgmmas are done: hand its buffers back
        if (prev_stage >= 0) release(prev_stage);
        prev_stage = st.index;
        st.advance();
      }
      // Every wgmma of this unit is issued: the other consumer may start its main loop while these drain.
      if (C::kPingPong && u + sc.unit_stride < sc.units)
        named_arrive(Sm90::kPingPongBarrier0 + (consumer ^ 1), kPingPongThreads);
      wgmma_wait<0>();
      if (prev_stage >= 0) release(prev_stage);

      const int tile = pt * sc.q_tiles + qt;
      if (C::kSplitK > 1 && !split_k_reduce<C>(p, acc, tile, split, consumer, tid, bar_id, flags + consumer)) continue;
      const int p_base = pt * C::kPRows + (C::kPingPong ? 0 : consumer * C::kConsumerRows);
      if (C::kSwap) {
        epilogue_direct<C>(p, acc, p_base, qt * C::kQCols, tid);
      } else {
        epilogue_staged<C>(p, acc, smem.staging() + consumer * 64 * C::kStageRowBytes, p_base, qt * C::kQCols, tid,
                           bar_id);
      }
    }
  }
  // NOTE: no CTA of a cluster may exit while a peer can still multicast into its shared memory or arrive on its
  // barriers; every thread (the idle producer lanes too) meets here.
  if (C::kCluster > 1) cluster_sync();
}

}  // namespace qjitk

// Heuristic tile choice per M bucket.
// GEMM (gemm_sm80 family): small M (<= 16) is a weight stream, so the tile is BM = 16 with a narrow BN that yields
// at least one CTA per SM and a deep pipeline of 128-byte K slices to keep enough bytes in flight; M = 32 uses
// 32x64. From M = 64 on, the largest tile (256x128, 128x128, 64x128, 64x64) that still fills every SM once is taken:
// bigger tiles re-read less of A and B, but an under-filled first wave costs more than that saves.
// Quantize: enough threads per row that each holds about two 16-element chunks (so the row stays in registers
// between the absmax and the quantize pass), and several rows per CTA when rows are short.
#include "autotune/heuristic.h"

#include <algorithm>

#include "codegen/gemm_s8_sm80.h"

namespace qjit::autotune {
namespace {

using codegen::KernelFamily;
using codegen::TileConfig;

TileConfig gemm(int bm, int bn, int bk, int wm, int wn, int stages) {
  TileConfig c;
  c.family = KernelFamily::GemmSm80;
  c.block_m = bm;
  c.block_n = bn;
  c.block_k = bk;
  c.warps_m = wm;
  c.warps_n = wn;
  c.stages = stages;
  c.split_k = 1;
  return c;
}

std::int64_t tiles(const codegen::KernelSpec& spec, const TileConfig& c) {
  const std::int64_t m = spec.m_bucket;
  return ((m + c.block_m - 1) / c.block_m) * ((spec.n + c.block_n - 1) / c.block_n);
}

// Shrinks the pipeline until the config fits the arch's shared memory (sm_86/89 have 99 KiB).
TileConfig fit_smem(const codegen::KernelSpec& spec, TileConfig c) {
  while (c.stages > 2 && codegen::gemm_s8_sm80_smem_bytes(c) > codegen::max_dynamic_smem_bytes(spec.arch)) --c.stages;
  return c;
}

// NOTE: the choices below follow `qjit tune` on an H200 (docs/PERF.md, "v3"): decode always took 64-wide weight
// tiles with 128 bytes of K per stage; prefill gained ~9% from BK = 128 (fewer barriers per byte of K).
TileConfig gemm_heuristic(const codegen::KernelSpec& spec, int sm_count) {
  if (spec.m_bucket <= 16) {
    // 64-wide tiles once they give about one CTA per SM (8192^2: 22.6 vs 26.2 us); below that, 32-wide ones keep
    // every SM streaming (split-K would too, but this heuristic promises a workspace of zero).
    const bool wide = (spec.n + 63) / 64 >= sm_count * 3 / 4;
    return fit_smem(spec, wide ? gemm(16, 64, 128, 1, 4, 6) : gemm(16, 32, 128, 1, 2, 8));
  }
  if (spec.m_bucket <= 32) return fit_smem(spec, gemm(32, 64, 128, 1, 4, 5));
  const TileConfig ladder[] = {gemm(256, 128, 128, 4, 2, 4), gemm(128, 128, 64, 2, 4, 4), gemm(64, 128, 64, 2, 2, 4),
                               gemm(64, 64, 64, 2, 2, 4)};
  for (const TileConfig& c : ladder) {
    if (c.block_m > spec.m_bucket) continue;
    if (tiles(spec, c) >= sm_count) return fit_smem(spec, c);
  }
  return fit_smem(spec, ladder[3]);
}

int next_pow2(std::int64_t v) {
  int p = 1;
  while (p < v && p < (1 << 20)) p *= 2;
  return p;
}

TileConfig quantize_heuristic(const codegen::KernelSpec& spec) {
  TileConfig c;
  c.family = KernelFamily::Quantize;
  c.block_k = c.warps_m = c.warps_n = c.stages = c.split_k = 1;
  // Threads per row from tuning and quantize_rowwise_bench on an H200: about one 16-element chunk per thread for
  // decode (latency: the whole row in flight at once), two up to M = 2048, and beyond that about eight, but at least
  // 128 and at most 256 threads (K = 4096, M = 8192: 37 us with 128, 49 us with 64; K = 28672: 249 us with 256, 301
  // with 128).
  // NOTE: at most 256 threads a row from M = 256 on: K = 11008..28672 at M = 2048 ran at 0.50-0.66 of copy bandwidth
  // with 512-1024-thread rows (one row per CTA, a 16-32-warp barrier between the passes) against 0.87 at K = 8192
  // with 256 (quantize_rowwise_bench, H200, session 3).
  const std::int64_t chunks = (spec.k + 15) / 16;
  int tpr = spec.m_bucket <= 128    ? std::clamp(next_pow2(chunks), 4, 1024)
            : spec.m_bucket <= 2048 ? std::clamp(next_pow2((chunks + 1) / 2), 4, 256)
                                    : std::clamp(next_pow2((chunks + 7) / 8), std::min(next_pow2(chunks), 128), 256);
  // NOTE: a thread keeps at most 4 chunks in registers between the absmax and the quantize pass, and rows whose
  // chunks do not split evenly leave some threads a chunk short. Above decode, when the rule above does not split the
  // row evenly into <= 4 chunks a thread, the fewest threads (a multiple of 32 in [128, 384]) that do are taken
  // (H200, session 3, quantize_rowwise_bench, fraction of copy bandwidth at M = 8192 / 2048): K = 5120 on 160
  // threads 0.72 -> 0.98 / 0.70 -> 0.89; K = 13824 on 288 0.82 -> 0.99 / 0.66 -> 0.92; K = 14336 on 224 0.83 -> 0.90
  // / 0.67 -> 0.84; K = 20480 on 320 0.92 -> 0.98 / 0.84 -> 0.92. No such count: K = 11008, and K = 28672, whose
  // 448-thread rows measured slower (0.77).
  if (spec.m_bucket > 128 && !(chunks % tpr == 0 && chunks / tpr <= 4)) {
    for (int t = 128; t <= 384; t += 32) {
      if (chunks % t == 0 && chunks / t <= 4) {
        tpr = t;
        break;
      }
    }
  }
  c.block_n = tpr;
  c.block_m = tpr >= 256 ? 1 : 256 / tpr;
  return c;
}

}  // namespace

codegen::TileConfig heuristic_config(const codegen::KernelSpec& spec, int sm_count) {
  if (sm_count <= 0) sm_count = 132;
  if (spec.op == codegen::KernelOp::GemmS8) return gemm_heuristic(spec, sm_count);
  return quantize_heuristic(spec);
}

}  // namespace qjit::autotune

// Candidate spaces. GEMM: a fixed menu of CTA tiles with their warp grids, crossed with K slice (64, 128 bytes)
// and pipeline depth, restricted by M bucket (BM no larger than the bucket rounds up to, at least 16; from M = 512
// on no tile below 64 rows), plus split-K 2/4/8 for M <= 64 when allowed. Invalid combinations (shared memory over
// the arch limit, a split without K tiles) are filtered out by the family's validate function, so the tuner never
// spends a compile on a config codegen would reject. Quantize: threads per row x rows per CTA.
#include "autotune/candidates.h"

#include <algorithm>

#include "autotune/heuristic.h"
#include "codegen/gemm_s8_sm80.h"
#include "codegen/quantize_rowwise.h"

namespace qjit::autotune {
namespace {

using codegen::KernelFamily;
using codegen::TileConfig;

struct Tile {
  int bm, bn, wm, wn;
};
constexpr Tile kGemmTiles[] = {{16, 32, 1, 2},   {16, 64, 1, 4},   {16, 128, 1, 4},  {32, 64, 1, 4},
                               {32, 128, 2, 2},  {64, 64, 2, 2},   {64, 128, 2, 2},  {128, 64, 2, 2},
                               {128, 128, 2, 4}, {128, 256, 2, 4}, {256, 128, 4, 2}};

void push_unique(std::vector<TileConfig>& v, const TileConfig& c) {
  if (std::find(v.begin(), v.end(), c) == v.end()) v.push_back(c);
}

void gemm_candidates(const codegen::KernelSpec& spec, const CandidateOptions& opt, std::vector<TileConfig>& out) {
  const int max_bm = std::max(16, spec.m_bucket);
  const int min_bm = spec.m_bucket >= 512 ? 64 : 16;
  for (const Tile& t : kGemmTiles) {
    if (t.bm > max_bm || t.bm < min_bm) continue;
    for (int bk : {64, 128}) {
      for (int stages : {3, 4, 6, 8}) {
        if (stages == 8 && t.bm > 16) continue;  // only the weight-streaming tiles want very deep pipelines
        for (int split : {1, 2, 4, 8}) {
          if (split > 1 && (!opt.allow_split_k || spec.m_bucket > 64)) continue;
          TileConfig c;
          c.family = KernelFamily::GemmSm80;
          c.block_m = t.bm;
          c.block_n = t.bn;
          c.block_k = bk;
          c.warps_m = t.wm;
          c.warps_n = t.wn;
          c.stages = stages;
          c.split_k = split;
          if (codegen::validate_gemm_s8_sm80(spec, c).ok()) push_unique(out, c);
        }
      }
    }
  }
}

void quantize_candidates(const codegen::KernelSpec& spec, std::vector<TileConfig>& out) {
  for (int tpr : {8, 32, 64, 128, 256, 512, 1024}) {
    for (int threads : {128, 256, 512}) {
      if (tpr > threads && !(tpr > 256 && threads == 512)) continue;
      TileConfig c;
      c.family = KernelFamily::Quantize;
      c.block_k = c.warps_m = c.warps_n = c.stages = c.split_k = 1;
      c.block_n = tpr;
      c.block_m = std::max(1, threads / tpr);
      if (tpr * 4 > spec.k + 15 && tpr > 32) continue;  // most threads would idle
      if (codegen::validate_quantize(spec, c).ok()) push_unique(out, c);
    }
  }
  // The fewest threads (a multiple of 32) that keep a long row in registers between the passes: <= 4 chunks each.
  const int chunks = static_cast<int>((spec.k + 15) / 16);
  const int cached = ((chunks + 3) / 4 + 31) / 32 * 32;
  if (cached > 128 && cached <= 1024) {
    TileConfig c;
    c.family = KernelFamily::Quantize;
    c.block_k = c.warps_m = c.warps_n = c.stages = c.split_k = 1;
    c.block_n = cached;
    c.block_m = 1;
    if (codegen::validate_quantize(spec, c).ok()) push_unique(out, c);
  }
}

}  // namespace

std::vector<TileConfig> candidate_configs(const codegen::KernelSpec& spec) { return candidate_configs(spec, {}); }

std::vector<TileConfig> candidate_configs(const codegen::KernelSpec& spec, const CandidateOptions& options) {
  std::vector<TileConfig> out;
  const TileConfig first = heuristic_config(spec, options.sm_count);
  const bool gemm = spec.op == codegen::KernelOp::GemmS8;
  const bool first_ok =
      gemm ? codegen::validate_gemm_s8_sm80(spec, first).ok() : codegen::validate_quantize(spec, first).ok();
  if (first_ok) out.push_back(first);
  if (gemm) gemm_candidates(spec, options, out);
  else quantize_candidates(spec, out);
  return out;
}

}  // namespace qjit::autotune

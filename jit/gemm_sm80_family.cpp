// The portable int8 GEMM family (templates/gemm_s8_sm80.cuh: mma.sync + cp.async, sm_80/86/89, and sm_90 for the
// shapes TMA cannot take) as a KernelFamilyRuntime, with its tuning rules:
// Heuristic per M bucket: small M (<= 16) is a weight stream, so the tile is BM = 16 with a narrow BN that yields at
// least one CTA per SM and a deep pipeline of 128-byte K slices to keep enough bytes in flight; M = 32 uses 32x64.
// From M = 64 on, the largest tile (256x128, 128x128, 64x128, 64x64) that still fills every SM once is taken: bigger
// tiles re-read less of A and B, but an under-filled first wave costs more than that saves. Heuristic configs never
// use split-K, so they need no workspace.
// Candidates: a fixed menu of CTA tiles with their warp grids, crossed with K slice (64, 128 bytes) and pipeline
// depth, restricted by M bucket (BM no larger than the bucket rounds up to, at least 16; from M = 512 on no tile below
// 64 rows), plus split-K 2/4/8 for M <= 64 when allowed. Invalid combinations (shared memory over the arch limit, a
// split without K tiles) are filtered out by validate, so the tuner never spends a compile on a config codegen would
// reject. The heuristic's choice leads the list.
#include <algorithm>

#include "codegen/gemm_s8_sm80.h"
#include "jit/kernel_family.h"

namespace qjit::jit {
namespace {

using codegen::KernelSpec;
using codegen::Sm80Tile;

std::int64_t tiles(const KernelSpec& spec, const Sm80Tile& c) {
  const std::int64_t m = spec.m_bucket;
  return ((m + c.block_m - 1) / c.block_m) * ((spec.n + c.block_n - 1) / c.block_n);
}

// Shrinks the pipeline until the config fits the arch's shared memory (sm_86/89 have 99 KiB).
Sm80Tile fit_smem(const KernelSpec& spec, Sm80Tile c) {
  while (c.stages > 2 && codegen::gemm_s8_sm80_smem_bytes(c) > codegen::max_dynamic_smem_bytes(spec.arch)) --c.stages;
  return c;
}

// NOTE: the choices below follow `qjit tune` on an H200 (docs/PERF.md, "v3"): decode always took 64-wide weight
// tiles with 128 bytes of K per stage; prefill gained ~9% from BK = 128 (fewer barriers per byte of K).
Sm80Tile gemm_heuristic(const KernelSpec& spec, int sm_count) {
  if (spec.m_bucket <= 16) {
    // 64-wide tiles once they give about one CTA per SM (8192^2: 22.6 vs 26.2 us); below that, 32-wide ones keep
    // every SM streaming (split-K would too, but this heuristic promises a workspace of zero).
    const bool wide = (spec.n + 63) / 64 >= sm_count * 3 / 4;
    return fit_smem(
        spec, wide ? Sm80Tile{.block_m = 16, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 6}
                   : Sm80Tile{.block_m = 16, .block_n = 32, .block_k = 128, .warps_m = 1, .warps_n = 2, .stages = 8});
  }
  if (spec.m_bucket <= 32)
    return fit_smem(spec,
                    Sm80Tile{.block_m = 32, .block_n = 64, .block_k = 128, .warps_m = 1, .warps_n = 4, .stages = 5});
  const Sm80Tile ladder[] = {{.block_m = 256, .block_n = 128, .block_k = 128, .warps_m = 4, .warps_n = 2, .stages = 4},
                             {.block_m = 128, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 4, .stages = 4},
                             {.block_m = 64, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4},
                             {.block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4}};
  for (const Sm80Tile& c : ladder) {
    if (c.block_m > spec.m_bucket) continue;
    if (tiles(spec, c) >= sm_count) return fit_smem(spec, c);
  }
  return fit_smem(spec, ladder[3]);
}

struct Tile {
  int bm, bn, wm, wn;
};
constexpr Tile kGemmTiles[] = {{16, 32, 1, 2},   {16, 64, 1, 4},   {16, 128, 1, 4}, {32, 64, 1, 4},
                               {32, 128, 2, 2},  {64, 64, 2, 2},   {64, 128, 2, 2}, {128, 64, 2, 2},
                               {128, 128, 2, 4}, {128, 256, 2, 4}, {256, 128, 4, 2}};

void push_unique(std::vector<Sm80Tile>& v, const Sm80Tile& c) {
  if (std::find(v.begin(), v.end(), c) == v.end()) v.push_back(c);
}

class GemmSm80Family final : public TypedFamily<Sm80Tile> {
 public:
  Status accepts(const KernelSpec& spec) const override {
    if (spec.op != codegen::KernelOp::GemmS8)
      return Status(StatusCode::Unsupported, "not a GEMM: one quantize family serves every arch");
    return Status();
  }

  // Chosen when the Hopper family declined: its reason is the answer.
  std::string why_chosen(const KernelSpec& spec) const override {
    const Status hopper = gemm_sm90_family().accepts(spec);
    return hopper.ok() ? "the portable mma.sync family" : hopper.message();
  }

 protected:
  Status validate_tile(const KernelSpec& spec, const Sm80Tile& config) const override {
    return codegen::validate_gemm_s8_sm80(spec, config);
  }

  Result<codegen::Source> render_tile(const KernelSpec& spec, const Sm80Tile& config) const override {
    return codegen::render_gemm_s8_sm80(spec, config);
  }

  runtime::LaunchDims launch_dims_tile(const KernelSpec& spec, const Sm80Tile& config, std::int64_t m,
                                       int) const override {
    return codegen::gemm_s8_sm80_launch(spec, config, m);
  }

  WorkspaceLayout workspace_tile(const KernelSpec& spec, const Sm80Tile& config, std::int64_t m) const override {
    WorkspaceLayout w;
    w.bytes = codegen::gemm_s8_sm80_workspace_bytes(spec, config, m);
    if (config.split_k > 1) {
      w.counters_offset = codegen::gemm_s8_sm80_counters_offset(spec, config, m);
      w.counters_bytes = w.bytes - w.counters_offset;  // the tile counters of this M
    }
    return w;
  }

  Sm80Tile heuristic_tile(const KernelSpec& spec, int sm_count) const override {
    return gemm_heuristic(spec, sm_count <= 0 ? 132 : sm_count);
  }

  std::vector<Sm80Tile> candidate_tiles(const KernelSpec& spec, const CandidateOptions& opt) const override {
    std::vector<Sm80Tile> out;
    const Sm80Tile first = heuristic_tile(spec, opt.sm_count);
    if (validate_tile(spec, first).ok()) out.push_back(first);
    const int max_bm = std::max(16, spec.m_bucket);
    const int min_bm = spec.m_bucket >= 512 ? 64 : 16;
    for (const Tile& t : kGemmTiles) {
      if (t.bm > max_bm || t.bm < min_bm) continue;
      for (int bk : {64, 128}) {
        for (int stages : {3, 4, 6, 8}) {
          if (stages == 8 && t.bm > 16) continue;  // only the weight-streaming tiles want very deep pipelines
          for (int split : {1, 2, 4, 8}) {
            if (split > 1 && (!opt.allow_split_k || spec.m_bucket > 64)) continue;
            const Sm80Tile c{.block_m = t.bm,
                             .block_n = t.bn,
                             .block_k = bk,
                             .warps_m = t.wm,
                             .warps_n = t.wn,
                             .stages = stages,
                             .split_k = split};
            if (validate_tile(spec, c).ok()) push_unique(out, c);
          }
        }
      }
    }
    return out;
  }
};

}  // namespace

const KernelFamilyRuntime& gemm_sm80_family() {
  static const GemmSm80Family family;
  return family;
}

}  // namespace qjit::jit

// The weight-only int8 GEMM family (templates/w8a16_sm80.cuh: f16 / bf16 activations x int8 weights dequantized in
// the main loop, mma.sync m16n8k16, cp.async; sm_80 and later) as a KernelFamilyRuntime, with its tuning rules.
// Heuristic (unmeasured: docs/PERF.md states the prediction it rests on): decode (M <= 32) is a weight stream, so a
// 16- or 32-row tile over 64 columns and 64 elements of K a stage, 5-6 stages, and K split (deterministic, through the
// workspace) while the grid stays within two CTAs per SM, each split keeping at least 8 k tiles; M <= 64 a 64 x 64 tile;
// above, the largest of 128 x 128 / 64 x 128 / 64 x 64 (32 of K a stage, 4 stages) that fills every SM once.
// Candidates: a menu of CTA tiles and warp grids x K slice (32, 64, 128) x stages, restricted by the M bucket, split-K
// 2/4/8 for M <= 64 when allowed; the heuristic's choice leads. The kernel takes its own parameter block
// (W8A16Params), which the plan launches itself, so launch_gemm (GemmS8Params) is refused.
#include <algorithm>

#include "codegen/w8a16_sm80.h"
#include "jit/kernel_family.h"

namespace qjit::jit {
namespace {

using codegen::KernelSpec;
using codegen::W8A16Tile;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

W8A16Tile fit_smem(const KernelSpec& spec, W8A16Tile c) {
  while (c.stages > 2 && codegen::w8a16_sm80_smem_bytes(spec, c) > codegen::max_dynamic_smem_bytes(spec.arch)) --c.stages;
  return c;
}

// Doubles the K split while the grid stays within two CTAs per SM, keeping >= 8 k tiles a split (at most 8 splits).
W8A16Tile with_split(const KernelSpec& spec, W8A16Tile c, int sm_count) {
  const std::int64_t tiles = ceil_div(spec.m_bucket, c.block_m) * ceil_div(spec.n, c.block_n);
  const std::int64_t k_tiles = ceil_div(spec.k, c.block_k);
  while (c.split_k < 8 && tiles * c.split_k * 2 <= 2 * sm_count && k_tiles / (2 * c.split_k) >= 8) c.split_k *= 2;
  return c;
}

W8A16Tile w8a16_heuristic(const KernelSpec& spec, int sm_count) {
  if (spec.m_bucket <= 16)
    return fit_smem(
        spec, with_split(
                  spec, W8A16Tile{.block_m = 16, .block_n = 64, .block_k = 64, .warps_m = 1, .warps_n = 4, .stages = 6},
                  sm_count));
  if (spec.m_bucket <= 32)
    return fit_smem(
        spec, with_split(
                  spec, W8A16Tile{.block_m = 32, .block_n = 64, .block_k = 64, .warps_m = 1, .warps_n = 4, .stages = 5},
                  sm_count));
  if (spec.m_bucket <= 64)
    return fit_smem(
        spec, with_split(
                  spec, W8A16Tile{.block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4},
                  sm_count));
  const W8A16Tile ladder[] = {{.block_m = 128, .block_n = 128, .block_k = 32, .warps_m = 2, .warps_n = 4, .stages = 4},
                              {.block_m = 64, .block_n = 128, .block_k = 32, .warps_m = 2, .warps_n = 2, .stages = 4},
                              {.block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 4}};
  for (const W8A16Tile& c : ladder) {
    if (c.block_m > spec.m_bucket) continue;
    if (ceil_div(spec.m_bucket, c.block_m) * ceil_div(spec.n, c.block_n) >= sm_count) return fit_smem(spec, c);
  }
  return fit_smem(spec, ladder[2]);
}

struct Shape {
  int bm, bn, wm, wn;
};
constexpr Shape kTiles[] = {{16, 32, 1, 2},   {16, 64, 1, 4},   {16, 128, 1, 4}, {32, 64, 1, 4},
                            {32, 128, 2, 2},  {64, 64, 2, 2},   {64, 128, 2, 2}, {128, 64, 2, 2},
                            {128, 128, 2, 4}, {128, 256, 2, 4}, {256, 128, 4, 2}};

class W8A16Sm80Family final : public TypedFamily<W8A16Tile> {
 public:
  Status accepts(const KernelSpec& spec) const override {
    if (spec.op != codegen::KernelOp::W8A16Gemm)
      return Status(StatusCode::Unsupported, "not a weight-only (w8a16) GEMM");
    return Status();
  }

  std::string why_chosen(const KernelSpec&) const override {
    return "a weight-only int8 GEMM: the w8a16 mma.sync family serves every arch";
  }

 protected:
  Status validate_tile(const KernelSpec& spec, const W8A16Tile& c) const override {
    return codegen::validate_w8a16_sm80(spec, c);
  }
  Result<codegen::Source> render_tile(const KernelSpec& spec, const W8A16Tile& c) const override {
    return codegen::render_w8a16_sm80(spec, c);
  }
  runtime::LaunchDims launch_dims_tile(const KernelSpec& spec, const W8A16Tile& c, std::int64_t m, int) const override {
    return codegen::w8a16_sm80_launch(spec, c, m);
  }
  WorkspaceLayout workspace_tile(const KernelSpec& spec, const W8A16Tile& c, std::int64_t m) const override {
    WorkspaceLayout w;
    w.bytes = codegen::w8a16_sm80_workspace_bytes(spec, c, m);
    if (c.split_k > 1) {
      w.counters_offset = codegen::w8a16_sm80_counters_offset(spec, c, m);
      w.counters_bytes = w.bytes - w.counters_offset;  // the tile counters of this M
    }
    return w;
  }
  Status launch_gemm_tile(const runtime::LoadedKernel&, const runtime::LaunchDims&, const KernelSpec&, const W8A16Tile&,
                          const codegen::GemmS8Params&, CUstream, const codegen::GemmAzpArgs*) const override {
    return Status(StatusCode::InvalidArgument,
                  "launch_gemm: the w8a16_sm80 family takes W8A16Params (WeightOnlyLinearPlan launches it), not "
                  "GemmS8Params");
  }
  W8A16Tile heuristic_tile(const KernelSpec& spec, int sm_count) const override {
    return w8a16_heuristic(spec, sm_count <= 0 ? 132 : sm_count);
  }
  std::vector<W8A16Tile> candidate_tiles(const KernelSpec& spec, const CandidateOptions& opt) const override {
    std::vector<W8A16Tile> out;
    auto push = [&](const W8A16Tile& c) {
      if (validate_tile(spec, c).ok() && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    };
    const W8A16Tile first = heuristic_tile(spec, opt.sm_count);
    if (first.split_k == 1 || opt.allow_split_k) push(first);
    const int max_bm = std::max(16, spec.m_bucket);
    const int min_bm = spec.m_bucket >= 512 ? 64 : 16;
    for (const Shape& t : kTiles) {
      if (t.bm > max_bm || t.bm < min_bm) continue;
      for (int bk : {32, 64, 128})
        for (int stages : {3, 4, 6})
          for (int split : {1, 2, 4, 8}) {
            if (split > 1 && (!opt.allow_split_k || spec.m_bucket > 64)) continue;
            push(W8A16Tile{.block_m = t.bm,
                           .block_n = t.bn,
                           .block_k = bk,
                           .warps_m = t.wm,
                           .warps_n = t.wn,
                           .stages = stages,
                           .split_k = split});
          }
    }
    return out;
  }
};

}  // namespace

const KernelFamilyRuntime& w8a16_sm80_family() {
  static const W8A16Sm80Family family;
  return family;
}

}  // namespace qjit::jit

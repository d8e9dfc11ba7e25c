// The weight-only int8 GEMM family (templates/w8a16_sm80.cuh: f16 / bf16 activations x int8 weights dequantized in the
// main loop, mma.sync m16n8k16, cp.async; sm_80 and later) as a KernelFamilyRuntime, with its tuning rules. Heuristic
// (decode measured on the H200 in session 13; the rest unmeasured, docs/PERF.md states the predictions it rests on):
// decode is a weight stream. M <= 16 takes the swap_ab layout (templates/w8a16_sm80_decode.cuh: weight rows on the
// mma's M side, streamed global -> registers), set from the H200 sweep: 8 / 16 tokens, 256 channels of 8 warps for N >=
// 8192 else 64 channels of 4 x 2 warps along K, K split within one wave, then until x of the CTA's slice fits the
// arch's shared memory (decode_heuristic). M <= 32 (and M <= 16 when no swap_ab config validates, or 9-16 tokens over N
// < 8192 and K >= 8192) a 16- or 32-row tile of the main layout over 64 columns and 64 elements of K a stage, 5-6
// stages, and K split (deterministic, through the workspace) while the grid stays within two CTAs per SM, each split
// keeping at least 8 k tiles; M <= 64 a 64 x 64 tile; above, the largest of 128 x 128 / 64 x 128 / 64 x 64 (32 of K a
// stage, 4 stages) that fills every SM once. Candidates: for M <= 32 the swap_ab menu (warp grids x k block 64 / 128 x
// 2 / 4 / 8 k blocks in flight x splits up to 16), then a menu of CTA tiles and warp grids x K slice (32, 64, 128) x
// stages, restricted by the M bucket, split-K 2/4/8 for M <= 64 when allowed; the heuristic's choice leads. The kernel
// takes its own parameter block (W8A16Params), which the plan launches itself, so launch_gemm (GemmS8Params) is
// refused.
#include <algorithm>
#include <optional>

#include "codegen/w8a16_sm80.h"
#include "jit/kernel_family.h"

namespace qjit::jit {
namespace {

using codegen::KernelSpec;
using codegen::W8A16Tile;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

W8A16Tile fit_smem(const KernelSpec& spec, W8A16Tile c) {
  while (c.stages > 2 && codegen::w8a16_sm80_smem_bytes(spec, c) > codegen::max_dynamic_smem_bytes(spec.arch))
    --c.stages;
  return c;
}

// Doubles the K split while the grid stays within two CTAs per SM, keeping >= 8 k tiles a split (at most 8 splits).
W8A16Tile with_split(const KernelSpec& spec, W8A16Tile c, int sm_count) {
  const std::int64_t tiles = ceil_div(spec.m_bucket, c.block_m) * ceil_div(spec.n, c.block_n);
  const std::int64_t k_tiles = ceil_div(spec.k, c.block_k);
  while (c.split_k < 8 && tiles * c.split_k * 2 <= 2 * sm_count && k_tiles / (2 * c.split_k) >= 8) c.split_k *= 2;
  return c;
}

// The decode layout (swap_ab) for M <= 16, from `weight_only_linear_bench --sweep` on the H200 (session 13, M = 1: each
// shape's fastest of 82-184 configs): 8 or 16 tokens a CTA; N >= 8192: 8 warps of 32 channels (256 channels, k blocks
// of 64); below: 4 warps of 16 channels x 2 warps along K (64 channels, k blocks of 128); 4 k blocks in flight. K is
// split while the grid stays within one wave (one CTA an SM) and each split keeps >= 4 k blocks a warp, then further
// until the CTA's shared memory fits the arch's limit. The winners this rule reproduces: n4096 k4096 8x64x128 w2x4 sk2
// (14.7 us; the former 8x128x64 w1x4 sk8 took 20.2), n28672 k8192 8x256x64 w1x8 sk1 (78.7 us; 91.5), n8192 k28672
// 8x256x64 w1x8 sk4 (80.0 us; 96.1); at M = 16 n4096 k4096 16x64x128 w2x4 sk2 (18.5 us; the former 16-token pick took
// 38.7), n28672 k8192 sk2 and n8192 k28672 sk4 (96.0 us; the 160 KiB cap of session 13 made it sk8, 107.9). nullopt
// when none validates.
std::optional<W8A16Tile> decode_heuristic(const KernelSpec& spec, int sm_count) {
  const bool wide = spec.n >= 8192;
  W8A16Tile c{.block_m = spec.m_bucket <= 8 ? 8 : 16,
              .block_n = wide ? 256 : 64,
              .block_k = wide ? 64 : 128,
              .warps_m = wide ? 1 : 2,
              .warps_n = wide ? 8 : 4,
              .stages = 4,
              .split_k = 1,
              .swap_ab = true};
  const std::int64_t ctas = ceil_div(spec.n, c.block_n);
  const std::int64_t k_blocks = ceil_div(spec.k, c.block_k);
  // NOTE: two waves for the narrow tile (sk4 on n4096 k11008 / k14336 at M = 1) won the session-14 sweep by 8-13% but
  // lost the suite by 7-13% in the next call (30.3 / 36.1 us against sk2's 28.3 / 31.9): one wave for both.
  while (c.split_k < 16 && ctas * c.split_k * 2 <= sm_count && k_blocks / (2 * c.split_k) >= 4 * c.warps_m)
    c.split_k *= 2;
  const std::int64_t budget = codegen::max_dynamic_smem_bytes(spec.arch);
  while (c.split_k < 16 && codegen::w8a16_sm80_smem_bytes(spec, c) > budget) c.split_k *= 2;
  if (!codegen::validate_w8a16_sm80(spec, c).ok()) return std::nullopt;
  return c;
}

W8A16Tile w8a16_heuristic(const KernelSpec& spec, int sm_count) {
  // NOTE: 9-16 tokens over a narrow, long-K layer run faster on the main layout (session 14's sweep, n4096 k14336
  // M = 16: 16x64x64 w1x4 s6 sk4 36.8 us against the swap_ab pick's 47.3), so only M <= 8 takes swap_ab there.
  const bool main_layout_better = spec.m_bucket > 8 && spec.n < 8192 && spec.k >= 8192;
  if (spec.m_bucket <= 16 && !main_layout_better)
    if (const std::optional<W8A16Tile> d = decode_heuristic(spec, sm_count)) return *d;
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
    if (spec.m_bucket <= 32) {
      // The decode layout: its tokens-a-CTA fitting the bucket, a menu of warp grids (warps_n x channels a warp,
      // warps along K), k blocks of 64 / 128, rings of 2 / 4 / 8 k blocks, splits up to 16.
      struct Grid {
        int wn, ch, wm;
      };
      constexpr Grid kGrids[] = {{4, 32, 1}, {4, 32, 2}, {4, 16, 2}, {2, 32, 4}, {8, 32, 1}};
      const int bm = spec.m_bucket <= 8 ? 8 : spec.m_bucket <= 16 ? 16 : 32;
      for (const Grid& gr : kGrids)
        for (int bk : {64, 128})
          for (int stages : {2, 4, 8})
            for (int split : {1, 2, 4, 8, 16}) {
              if (split > 1 && !opt.allow_split_k) continue;
              push(W8A16Tile{.block_m = bm,
                             .block_n = gr.wn * gr.ch,
                             .block_k = bk,
                             .warps_m = gr.wm,
                             .warps_n = gr.wn,
                             .stages = stages,
                             .split_k = split,
                             .swap_ab = true});
            }
    }
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

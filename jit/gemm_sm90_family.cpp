// The Hopper int8 GEMM family (templates/gemm_s8_sm90.cuh: wgmma + TMA, warp-specialised, persistent) as a
// KernelFamilyRuntime. Codegen does the template work (codegen/gemm_s8_sm90.h); this object adds what the plans
// need around it: which specs it takes, the TMA parameter block, the split-K workspace layout and the M-bucket
// restriction of the autotuner's space.
#include <algorithm>

#include "codegen/gemm_s8_sm90.h"
#include "jit/kernel_family.h"
#include "runtime/driver.h"

namespace qjit::jit {
namespace {

using codegen::KernelSpec;
using codegen::TileConfig;

codegen::Sm90GemmSpec sm90_spec(const KernelSpec& s) {
  return {s.out_element, s.n, s.k, s.has_bias, s.per_token_scale};
}

codegen::Sm90Config sm90_config(const TileConfig& c) {
  codegen::Sm90Config x;
  x.block_m = c.block_m;
  x.block_n = c.block_n;
  x.block_k = c.block_k;
  x.stages = c.stages;
  x.consumers = c.consumers;
  x.swap_ab = c.swap_ab;
  x.split_k = c.split_k;
  x.pingpong = c.pingpong;
  x.cluster_m = c.cluster_m;
  return x;
}

TileConfig tile_config(const codegen::Sm90Config& x) {
  TileConfig c;
  c.family = codegen::KernelFamily::GemmSm90;
  c.block_m = x.block_m;
  c.block_n = x.block_n;
  c.block_k = x.block_k;
  c.warps_m = 1;
  c.warps_n = 1;
  c.stages = x.stages;
  c.consumers = x.consumers;
  c.swap_ab = x.swap_ab;
  c.split_k = x.split_k;
  c.pingpong = x.pingpong;
  c.cluster_m = x.cluster_m;
  return c;
}

std::size_t align16(std::size_t v) { return (v + 15) / 16 * 16; }

class GemmSm90Family final : public KernelFamilyRuntime {
 public:
  codegen::KernelFamily id() const override { return codegen::KernelFamily::GemmSm90; }

  Status accepts(const KernelSpec& spec) const override {
    if (spec.op != codegen::KernelOp::GemmS8)
      return Status(StatusCode::Unsupported, "not a GEMM: one quantize family serves every arch");
    if (spec.arch != 90)
      return Status(StatusCode::Unsupported, codegen::arch_option(spec.arch) +
                                                 " has no wgmma/TMA, so the portable mma.sync family (the Hopper "
                                                 "family needs sm_90a)");
    const Status why = codegen::validate_gemm_s8_sm90(sm90_spec(spec), codegen::Sm90Config{});
    if (!why.ok())
      return Status(StatusCode::Unsupported,
                    "the Hopper family cannot take this shape on sm_90a (" + why.message() + ")");
    if (sm90_disabled()) return Status(StatusCode::Unsupported, "QJIT_DISABLE_SM90=1 turns the Hopper family off");
    return Status();
  }

  std::string why_chosen(const KernelSpec& spec) const override {
    return "sm_90a, and K=" + std::to_string(spec.k) + " suits TMA: the wgmma + TMA pipeline";
  }

  Status validate(const KernelSpec& spec, const TileConfig& config) const override {
    if (config.family != id())
      return Status(StatusCode::InvalidArgument,
                    "config.family must be gemm_sm90, got " + std::string(codegen::kernel_family_name(config.family)));
    return codegen::validate_gemm_s8_sm90(sm90_spec(spec), sm90_config(config));
  }

  Result<codegen::Source> render(const KernelSpec& spec, const TileConfig& config) const override {
    QJIT_ASSIGN_OR_RETURN(codegen::Sm90Source src, codegen::render_gemm_s8_sm90(sm90_spec(spec), sm90_config(config)));
    return codegen::Source{std::move(src.text), std::move(src.entry), src.threads, src.dynamic_smem};
  }

  runtime::LaunchDims launch_dims(const KernelSpec& spec, const TileConfig& config, std::int64_t m,
                                  int sm_count) const override {
    const auto l = codegen::gemm_s8_sm90_launch(sm90_spec(spec), sm90_config(config), m, std::max(sm_count, 1));
    runtime::LaunchDims d;
    d.grid[0] = l.grid_x;
    d.grid[1] = l.grid_y;
    d.grid[2] = l.grid_z;
    d.block[0] = l.block_x;
    d.block[1] = l.block_y;
    d.block[2] = l.block_z;
    d.dynamic_smem_bytes = static_cast<unsigned>(l.dynamic_smem);
    d.cluster[0] = l.cluster_x;
    d.cluster[1] = l.cluster_y;
    d.cluster[2] = l.cluster_z;
    // The kernel waits (griddepcontrol.wait) before its first dependent read, so it may be scheduled while the
    // quantize pass before it finishes.
    d.programmatic = true;
    return d;
  }

  WorkspaceLayout workspace(const KernelSpec& spec, const TileConfig& config, std::int64_t m) const override {
    if (config.split_k <= 1) return {};
    WorkspaceLayout w;
    w.counters_offset = align16(codegen::gemm_s8_sm90_workspace_bytes(sm90_spec(spec), sm90_config(config), m));
    w.counters_bytes = codegen::gemm_s8_sm90_counter_count(sm90_spec(spec), sm90_config(config), m) * 4;
    w.bytes = w.counters_offset + w.counters_bytes;
    return w;
  }

  // The parameter block: two TMA tensor maps (encoded by the driver for this call's pointers), then `p`.
  Status launch_gemm(const runtime::LoadedKernel& kernel, const runtime::LaunchDims& dims, const KernelSpec& spec,
                     const TileConfig& config, const codegen::GemmS8Params& p, CUstream stream) const override {
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    if (!api->cuTensorMapEncodeTiled)
      return Status(StatusCode::Unsupported, "the CUDA driver lacks cuTensorMapEncodeTiled (needs CUDA 12+)");
    codegen::GemmS8Sm90Params hp;
    QJIT_TRY(codegen::encode_gemm_s8_sm90_params(reinterpret_cast<codegen::EncodeTiledFn>(api->cuTensorMapEncodeTiled),
                                                 sm90_spec(spec), sm90_config(config), p, &hp));
    return kernel.launch(dims, stream, &hp);
  }

  TileConfig heuristic(const KernelSpec& spec, int sm_count) const override {
    return tile_config(codegen::sm90_heuristic_config(sm90_spec(spec), spec.m_bucket, sm_count));
  }

  std::vector<TileConfig> candidates(const KernelSpec& spec, const CandidateOptions&) const override {
    std::vector<TileConfig> out;
    for (const codegen::Sm90Config& c : codegen::sm90_candidate_configs(sm90_spec(spec))) {
      // Decode configs (tokens on wgmma's N side) serve M <= 128, prefill configs M >= 64; a token tile more than
      // twice the bucket only wastes work.
      // NOTE: a token tile smaller than the bucket (up to 64) makes every CTA pass over its weight tile more than
      // once; whether the repeat hits L2 depends on which CTAs run together, so such configs time well in one
      // harness and badly in another (8-token tiles at M = 16 measured 20.1 us in the tuner and 27.3 us in qjit
      // bench).
      const int want_tokens = std::min(std::max(spec.m_bucket, 8), 64);
      if (c.swap_ab && (spec.m_bucket > 128 || c.block_m > 2 * std::max(spec.m_bucket, 8) ||
                        (spec.m_bucket <= 64 && c.block_m < want_tokens)))
        continue;
      if (!c.swap_ab && spec.m_bucket < 64) continue;
      out.push_back(tile_config(c));
    }
    return out;
  }
};

}  // namespace

const KernelFamilyRuntime& gemm_sm90_family() {
  static const GemmSm90Family family;
  return family;
}

}  // namespace qjit::jit

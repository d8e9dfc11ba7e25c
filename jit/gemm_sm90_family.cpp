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
using codegen::Sm90Tile;

std::size_t align16(std::size_t v) { return (v + 15) / 16 * 16; }

class GemmSm90Family final : public TypedFamily<Sm90Tile> {
 public:
  // NOTE: TMA takes 16-byte aligned base addresses and global strides only (encode_gemm_s8_sm90_params).
  unsigned operand_align() const override { return 16; }

  Status accepts(const KernelSpec& spec) const override {
    if (spec.op != codegen::KernelOp::GemmS8)
      return Status(StatusCode::Unsupported, "not a GEMM: one quantize family serves every arch");
    if (spec.arch != 90)
      return Status(StatusCode::Unsupported, codegen::arch_option(spec.arch) +
                                                 " has no wgmma/TMA, so the portable mma.sync family (the Hopper "
                                                 "family needs sm_90a)");
    const Status why = codegen::validate_gemm_s8_sm90_spec(spec);
    if (!why.ok())
      return Status(StatusCode::Unsupported,
                    "the Hopper family cannot take this shape on sm_90a (" + why.message() + ")");
    if (sm90_disabled()) return Status(StatusCode::Unsupported, "QJIT_DISABLE_SM90=1 turns the Hopper family off");
    return Status();
  }

  std::string why_chosen(const KernelSpec& spec) const override {
    return "sm_90a: the wgmma + TMA pipeline (any K=" + std::to_string(spec.k) +
           "; int8 rows whose base or stride is not a multiple of 16 bytes are staged into the plan's workspace at "
           "128-byte rows, else run the portable family)";
  }

 protected:
  Status validate_tile(const KernelSpec& spec, const Sm90Tile& config) const override {
    return codegen::validate_gemm_s8_sm90(spec, config);
  }

  Result<codegen::Source> render_tile(const KernelSpec& spec, const Sm90Tile& config) const override {
    return codegen::render_gemm_s8_sm90(spec, config);
  }

  runtime::LaunchDims launch_dims_tile(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m,
                                       int sm_count) const override {
    runtime::LaunchDims d = codegen::gemm_s8_sm90_launch(spec, config, m, std::max(sm_count, 1));
    // The kernel waits (griddepcontrol.wait) before its first dependent read, so it may be scheduled while the
    // quantize pass before it finishes.
    d.programmatic = true;
    return d;
  }

  WorkspaceLayout workspace_tile(const KernelSpec& spec, const Sm90Tile& config, std::int64_t m) const override {
    if (config.split_k <= 1) return {};
    WorkspaceLayout w;
    w.counters_offset = align16(codegen::gemm_s8_sm90_workspace_bytes(spec, config, m));
    w.counters_bytes = codegen::gemm_s8_sm90_counter_count(spec, config, m) * 4;
    w.bytes = w.counters_offset + w.counters_bytes;
    return w;
  }

  // The parameter block: two TMA tensor maps (encoded by the driver for this call's pointers), then `p`.
  Status launch_gemm_tile(const runtime::LoadedKernel& kernel, const runtime::LaunchDims& dims, const KernelSpec& spec,
                          const Sm90Tile& config, const codegen::GemmS8Params& p, CUstream stream,
                          const codegen::GemmAzpArgs* azp) const override {
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    if (!api->cuTensorMapEncodeTiled)
      return Status(StatusCode::Unsupported, "the CUDA driver lacks cuTensorMapEncodeTiled (needs CUDA 12+)");
    codegen::GemmS8Sm90Params hp;
    QJIT_TRY(codegen::encode_gemm_s8_sm90_params(reinterpret_cast<codegen::EncodeTiledFn>(api->cuTensorMapEncodeTiled),
                                                 spec, config, p, &hp));
    QJIT_TRY(check_azp_args(spec, azp));
    if (spec.act_zero_point) {
      // NOTE: the tensor maps must stay 64-byte aligned: the block is built in place, not copied into a temporary.
      codegen::GemmS8Sm90AzpParams ap;
      ap.g = hp;
      ap.azp = *azp;
      return kernel.launch(dims, stream, &ap);
    }
    return kernel.launch(dims, stream, &hp);
  }

  Sm90Tile heuristic_tile(const KernelSpec& spec, int sm_count) const override {
    return codegen::sm90_heuristic_config(spec, spec.m_bucket, sm_count);
  }

  std::vector<Sm90Tile> candidate_tiles(const KernelSpec& spec, const CandidateOptions&) const override {
    std::vector<Sm90Tile> out;
    for (const Sm90Tile& c : codegen::sm90_candidate_configs(spec)) {
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
      out.push_back(c);
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

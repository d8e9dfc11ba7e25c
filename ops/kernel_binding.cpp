// Family dispatch (quantize, portable GEMM, Hopper GEMM) for rendering, launch geometry and workspace, and the
// bind step that turns a spec into a loaded kernel through the JIT service.
#include "ops/kernel_binding.h"

#include "autotune/heuristic.h"
#include <algorithm>
#include <cstdlib>

#include "codegen/gemm_s8_sm80.h"
#include "codegen/gemm_s8_sm90.h"
#include "codegen/quantize_rowwise.h"
#include "ops/autotuner.h"
#include "ops/kernel_service.h"
#include "ops/tuning_store.h"
#include "runtime/env.h"
#include "runtime/log.h"

namespace qjit::ops {
namespace {

codegen::Sm90GemmSpec sm90_spec(const codegen::KernelSpec& s) {
  return {s.out_element, s.n, s.k, s.has_bias, s.per_token_scale};
}

codegen::Sm90Config sm90_config(const codegen::TileConfig& c) {
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

codegen::TileConfig tile_config(const codegen::Sm90Config& x) {
  codegen::TileConfig c;
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

// The Hopper family serves GEMMs on sm_90 whose K suits TMA, unless QJIT_DISABLE_SM90=1.
bool use_sm90(const codegen::KernelSpec& spec) {
  static const bool disabled = env::flag_or_warn(env::Var::DisableSm90);
  return !disabled && spec.op == codegen::KernelOp::GemmS8 && spec.arch == 90 &&
         codegen::validate_gemm_s8_sm90(sm90_spec(spec), codegen::Sm90Config{}).ok();
}

// Bytes of int32 split-K counters placed after the partials in the caller's workspace.
std::size_t sm90_counter_bytes(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m) {
  return codegen::gemm_s8_sm90_counter_count(sm90_spec(spec), sm90_config(config), m) * 4;
}

// QJIT_DISABLE_PDL=1 turns programmatic dependent launch off (for A/B timing and as an escape hatch).
bool programmatic_launch_disabled() {
  static const bool disabled = env::flag_or_warn(env::Var::DisablePdl);
  return disabled;
}

std::size_t align16(std::size_t v) { return (v + 15) / 16 * 16; }

}  // namespace

namespace {

codegen::TileConfig heuristic_for(const codegen::KernelSpec& spec, const runtime::DeviceInfo& device) {
  if (use_sm90(spec))
    return tile_config(codegen::sm90_heuristic_config(sm90_spec(spec), spec.m_bucket, device.sm_count));
  return autotune::heuristic_config(spec, device.sm_count);
}

}  // namespace

Result<codegen::TileConfig> choose_config(const codegen::KernelSpec& spec, PlanPreference pref,
                                          const runtime::DeviceInfo& device) {
  const codegen::TileConfig heuristic = heuristic_for(spec, device);
  if (pref == PlanPreference::Heuristic) return heuristic;
  if (pref == PlanPreference::Tuned) {
    if (auto r = TuningStore::process().find(spec, device)) {
      std::string why;
      if (tuned_record_applies(*r, heuristic, &why)) {
        auto rendered = render(spec, r->config);
        if (rendered) return r->config;
        why = rendered.error().message();
      }
      QJIT_LOG_WARN("tuning", "not using tuned config {0} for {1}: {2}; using the heuristic", r->config.to_string(),
                    spec.to_string(), why);
    }
    return heuristic;
  }
  // Autotune: time the candidates now, at the bucket's M, and record the winner for later Tuned selects.
  QJIT_ASSIGN_OR_RETURN(TuneOutcome tuned, autotune_kernel(spec, spec.m_bucket, device, TuneOptions{}));
  if (Status saved = TuningStore::process().record(tuned.record); !saved.ok())
    QJIT_LOG_WARN("tuning", "could not save the tuning database: {0}", saved.to_string());
  QJIT_LOG_INFO("tuning", "{0}: {1} ({2:F1} us) over the heuristic {3} ({4:F1} us), {5} candidates",
                spec.to_string(), tuned.record.config.to_string(), tuned.record.time_us, heuristic.to_string(),
                tuned.record.heuristic_time_us, tuned.record.candidates);
  return tuned.record.config;
}

std::vector<codegen::TileConfig> sm90_tuning_space(const codegen::KernelSpec& spec) {
  std::vector<codegen::TileConfig> out;
  for (const codegen::Sm90Config& c : codegen::sm90_candidate_configs(sm90_spec(spec))) {
    // Decode configs (tokens on wgmma's N side) serve M <= 128, prefill configs M >= 64; a token tile more than
    // twice the bucket only wastes work.
    // NOTE: a token tile smaller than the bucket (up to 64) makes every CTA pass over its weight tile more than once;
    // whether the repeat hits L2 depends on which CTAs run together, so such configs time well in one harness and
    // badly in another (8-token tiles at M = 16 measured 20.1 us in the tuner and 27.3 us in qjit bench).
    const int want_tokens = std::min(std::max(spec.m_bucket, 8), 64);
    if (c.swap_ab && (spec.m_bucket > 128 || c.block_m > 2 * std::max(spec.m_bucket, 8) ||
                      (spec.m_bucket <= 64 && c.block_m < want_tokens)))
      continue;
    if (!c.swap_ab && spec.m_bucket < 64) continue;
    out.push_back(tile_config(c));
  }
  return out;
}

Result<codegen::Source> render(const codegen::KernelSpec& spec, const codegen::TileConfig& config) {
  switch (config.family) {
    case codegen::KernelFamily::Quantize: return codegen::render_quantize(spec, config);
    case codegen::KernelFamily::GemmSm80: return codegen::render_gemm_s8_sm80(spec, config);
    case codegen::KernelFamily::GemmSm90: {
      QJIT_ASSIGN_OR_RETURN(codegen::Sm90Source src, codegen::render_gemm_s8_sm90(sm90_spec(spec), sm90_config(config)));
      return codegen::Source{std::move(src.text), std::move(src.entry), src.threads, src.dynamic_smem};
    }
  }
  return Status(StatusCode::Unsupported, "no renderer for kernel family " +
                                             std::string(codegen::kernel_family_name(config.family)));
}

runtime::LaunchDims launch_dims(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m,
                               int sm_count) {
  codegen::LaunchDims d;
  unsigned cluster[3] = {1, 1, 1};
  switch (config.family) {
    case codegen::KernelFamily::Quantize: d = codegen::quantize_launch(spec, config, m); break;
    case codegen::KernelFamily::GemmSm80: d = codegen::gemm_s8_sm80_launch(spec, config, m); break;
    case codegen::KernelFamily::GemmSm90: {
      const auto l = codegen::gemm_s8_sm90_launch(sm90_spec(spec), sm90_config(config), m, std::max(sm_count, 1));
      d.grid[0] = l.grid_x;
      d.grid[1] = l.grid_y;
      d.grid[2] = l.grid_z;
      d.block[0] = l.block_x;
      d.block[1] = l.block_y;
      d.block[2] = l.block_z;
      d.dynamic_smem_bytes = static_cast<unsigned>(l.dynamic_smem);
      cluster[0] = l.cluster_x;
      cluster[1] = l.cluster_y;
      cluster[2] = l.cluster_z;
      break;
    }
  }
  runtime::LaunchDims r;
  for (int i = 0; i < 3; ++i) {
    r.grid[i] = d.grid[i];
    r.block[i] = d.block[i];
  }
  r.dynamic_smem_bytes = d.dynamic_smem_bytes;
  for (int i = 0; i < 3; ++i) r.cluster[i] = cluster[i];
  // The Hopper GEMM waits (griddepcontrol.wait) before its first dependent read, so it may be scheduled while the
  // quantize pass before it finishes (programmatic dependent launch); the other families read at once.
  // The quantize pass waits for the kernel ahead of it the same way (sm_90+; older parts compile no wait).
  r.programmatic = (config.family == codegen::KernelFamily::GemmSm90 ||
                    (config.family == codegen::KernelFamily::Quantize && spec.arch >= 90)) &&
                   !programmatic_launch_disabled();
  return r;
}

std::size_t kernel_workspace_bytes(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                                   std::int64_t m) {
  if (config.family == codegen::KernelFamily::GemmSm80) return codegen::gemm_s8_sm80_workspace_bytes(spec, config, m);
  if (config.family == codegen::KernelFamily::GemmSm90 && config.split_k > 1)
    return align16(codegen::gemm_s8_sm90_workspace_bytes(sm90_spec(spec), sm90_config(config), m)) +
           sm90_counter_bytes(spec, config, m);
  return 0;
}

Status launch_gemm(const KernelBinding& g, const codegen::GemmS8Params& params, std::size_t workspace_bytes,
                   CUstream stream) {
  const std::int64_t m = params.m;
  const auto dims = launch_dims(g, m);
  codegen::GemmS8Params p = params;
  std::size_t counters_offset = 0, counters_bytes = 0;
  if (g.config.family == codegen::KernelFamily::GemmSm80 && g.config.split_k > 1) {
    counters_offset = codegen::gemm_s8_sm80_counters_offset(g.spec, g.config, m);
    counters_bytes = workspace_bytes - counters_offset;
  } else if (g.config.family == codegen::KernelFamily::GemmSm90 && g.config.split_k > 1) {
    counters_offset = align16(codegen::gemm_s8_sm90_workspace_bytes(sm90_spec(g.spec), sm90_config(g.config), m));
    counters_bytes = sm90_counter_bytes(g.spec, g.config, m);
  }
  if (counters_bytes > 0) {
    // NOTE: the kernels leave their counters at zero, but the caller's workspace may hold anything before the first
    // launch; one memset on the same stream keeps run() stateless (no per-plan device memory, no first-run flag).
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    p.tile_counters = reinterpret_cast<std::int32_t*>(static_cast<char*>(p.workspace) + counters_offset);
    QJIT_CU(*api, cuMemsetD32Async, reinterpret_cast<runtime::CUdeviceptr>(p.tile_counters), 0u, counters_bytes / 4,
            stream);
  }
  if (g.config.family != codegen::KernelFamily::GemmSm90) return g.kernel->launch(dims, stream, &p);
  QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
  if (!api->cuTensorMapEncodeTiled)
    return Status(StatusCode::Unsupported, "the CUDA driver lacks cuTensorMapEncodeTiled (needs CUDA 12+)");
  codegen::GemmS8Sm90Params hp;
  QJIT_TRY(codegen::encode_gemm_s8_sm90_params(reinterpret_cast<codegen::EncodeTiledFn>(api->cuTensorMapEncodeTiled),
                                               sm90_spec(g.spec), sm90_config(g.config), p, &hp));
  return g.kernel->launch(dims, stream, &hp);
}

Result<KernelBinding> bind_kernel_with(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                                       const runtime::DeviceInfo& device) {
  QJIT_ASSIGN_OR_RETURN(codegen::Source source, render(spec, config));
  QJIT_ASSIGN_OR_RETURN(auto kernel, KernelService::process().load(source, device));
  KernelBinding b;
  b.spec = spec;
  b.config = config;
  b.kernel = std::move(kernel);
  b.entry = source.entry;
  b.sm_count = device.sm_count > 0 ? device.sm_count : 132;
  // Both families check 16-byte alignment at run time and fall back to narrower loads, so the plans need only
  // natural element alignment from the caller.
  b.operand_align = 1;
  return b;
}

Result<KernelBinding> bind_kernel(const codegen::KernelSpec& spec, PlanPreference pref,
                                  const runtime::DeviceInfo& device) {
  QJIT_ASSIGN_OR_RETURN(codegen::TileConfig config, choose_config(spec, pref, device));
  return bind_kernel_with(spec, config, device);
}

std::string family_reason(const codegen::KernelSpec& spec) {
  if (spec.op != codegen::KernelOp::GemmS8) return "not a GEMM: one quantize family serves every arch";
  if (spec.arch != 90)
    return codegen::arch_option(spec.arch) + " has no wgmma/TMA, so the portable mma.sync family (the Hopper family "
                                             "needs sm_90a)";
  if (use_sm90(spec)) return "sm_90a, and K=" + std::to_string(spec.k) + " suits TMA: the wgmma + TMA pipeline";
  const Status why = codegen::validate_gemm_s8_sm90(sm90_spec(spec), codegen::Sm90Config{});
  if (!why.ok()) return "the Hopper family cannot take this shape on sm_90a (" + why.message() + ")";
  return "QJIT_DISABLE_SM90=1 turns the Hopper family off";
}

}  // namespace qjit::ops

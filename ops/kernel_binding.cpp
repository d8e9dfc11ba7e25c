// Family dispatch (quantize, portable GEMM, Hopper GEMM) for rendering, launch geometry and workspace, and the
// bind step that turns a spec into a loaded kernel through the JIT service.
#include "ops/kernel_binding.h"

#include "autotune/heuristic.h"
#include "codegen/gemm_s8_sm80.h"
#include "codegen/quantize_rowwise.h"
#include "ops/kernel_service.h"
#include "runtime/log.h"

namespace qjit::ops {

Result<codegen::TileConfig> choose_config(const codegen::KernelSpec& spec, PlanPreference pref,
                                          const runtime::DeviceInfo& device) {
  // TODO(issue 5): PlanPreference::Tuned / Autotune consult the tuning database and the autotuner.
  (void)pref;
  return autotune::heuristic_config(spec, device.sm_count);
}

Result<codegen::Source> render(const codegen::KernelSpec& spec, const codegen::TileConfig& config) {
  switch (config.family) {
    case codegen::KernelFamily::Quantize: return codegen::render_quantize(spec, config);
    case codegen::KernelFamily::GemmSm80: return codegen::render_gemm_s8_sm80(spec, config);
    case codegen::KernelFamily::GemmSm90: break;
  }
  return Status(StatusCode::Unsupported, "no renderer for kernel family " +
                                             std::string(codegen::kernel_family_name(config.family)));
}

runtime::LaunchDims launch_dims(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m) {
  codegen::LaunchDims d;
  switch (config.family) {
    case codegen::KernelFamily::Quantize: d = codegen::quantize_launch(spec, config, m); break;
    case codegen::KernelFamily::GemmSm80: d = codegen::gemm_s8_sm80_launch(spec, config, m); break;
    case codegen::KernelFamily::GemmSm90: break;
  }
  runtime::LaunchDims r;
  for (int i = 0; i < 3; ++i) {
    r.grid[i] = d.grid[i];
    r.block[i] = d.block[i];
  }
  r.dynamic_smem_bytes = d.dynamic_smem_bytes;
  return r;
}

std::size_t kernel_workspace_bytes(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                                   std::int64_t m) {
  if (config.family == codegen::KernelFamily::GemmSm80) return codegen::gemm_s8_sm80_workspace_bytes(spec, config, m);
  return 0;
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

}  // namespace qjit::ops

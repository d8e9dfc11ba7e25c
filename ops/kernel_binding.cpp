// The bind step: a spec and its chosen config become a loaded kernel through the family registry (render, launch
// geometry, workspace, parameter block) and the JIT service (load). No switch over kernel families here: each family
// is one object (jit/kernel_family.h).
#include "ops/kernel_binding.h"

#include "jit/kernel_family.h"
#include "ops/autotuner.h"
#include "ops/kernel_service.h"
#include "ops/tuning_store.h"
#include "runtime/log.h"

namespace qjit::ops {

using jit::FamilyRegistry;

Result<codegen::TileConfig> choose_config(const codegen::KernelSpec& spec, PlanPreference pref,
                                          const runtime::DeviceInfo& device) {
  const codegen::TileConfig heuristic = FamilyRegistry::process().for_spec(spec).heuristic(spec, device.sm_count);
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

Result<codegen::Source> render(const codegen::KernelSpec& spec, const codegen::TileConfig& config) {
  return FamilyRegistry::process().family(config.family).render(spec, config);
}

runtime::LaunchDims launch_dims(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m,
                               int sm_count) {
  runtime::LaunchDims d = FamilyRegistry::process().family(config.family).launch_dims(spec, config, m, sm_count);
  d.programmatic = d.programmatic && !jit::programmatic_launch_disabled();
  return d;
}

std::size_t kernel_workspace_bytes(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                                   std::int64_t m) {
  return FamilyRegistry::process().family(config.family).workspace(spec, config, m).bytes;
}

Status launch_gemm(const KernelBinding& g, const codegen::GemmS8Params& params, std::size_t workspace_bytes,
                   CUstream stream) {
  const jit::KernelFamilyRuntime& family = FamilyRegistry::process().family(g.config.family);
  const std::int64_t m = params.m;
  const auto dims = launch_dims(g, m);
  codegen::GemmS8Params p = params;
  const jit::WorkspaceLayout ws = family.workspace(g.spec, g.config, m);
  const std::size_t counters_bytes =
      ws.counters_to_end ? workspace_bytes - ws.counters_offset : ws.counters_bytes;
  if (counters_bytes > 0) {
    // NOTE: the kernels leave their counters at zero, but the caller's workspace may hold anything before the first
    // launch; one memset on the same stream keeps run() stateless (no per-plan device memory, no first-run flag).
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    p.tile_counters = reinterpret_cast<std::int32_t*>(static_cast<char*>(p.workspace) + ws.counters_offset);
    QJIT_CU(*api, cuMemsetD32Async, reinterpret_cast<runtime::CUdeviceptr>(p.tile_counters), 0u, counters_bytes / 4,
            stream);
  }
  return family.launch_gemm(*g.kernel, dims, g.spec, g.config, p, stream);
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
  return FamilyRegistry::process().for_spec(spec).why_chosen(spec);
}

}  // namespace qjit::ops

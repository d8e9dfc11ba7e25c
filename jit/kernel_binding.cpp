// The bind step: a spec and its chosen config become a loaded kernel through the family registry (render, launch
// geometry, workspace, parameter block) and the JIT service (load). No switch over kernel families here: each family
// is one object (jit/kernel_family.h).
#include "jit/kernel_binding.h"

#include <algorithm>

#include "jit/kernel_family.h"
#include "jit/kernel_service.h"

namespace qjit::jit {

Result<codegen::Source> render(const codegen::KernelSpec& spec, const codegen::TileConfig& config) {
  return FamilyRegistry::process().family(config.family()).render(spec, config);
}

runtime::LaunchDims launch_dims(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m,
                                int sm_count) {
  runtime::LaunchDims d = FamilyRegistry::process().family(config.family()).launch_dims(spec, config, m, sm_count);
  d.programmatic = d.programmatic && !programmatic_launch_disabled();
  return d;
}

std::size_t kernel_workspace_bytes(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m) {
  return FamilyRegistry::process().family(config.family()).workspace(spec, config, m).bytes;
}

Status launch_gemm(const KernelBinding& g, const codegen::GemmS8Params& params, std::size_t workspace_bytes,
                   CUstream stream, const codegen::GemmAzpArgs* azp) {
  const KernelFamilyRuntime& family = FamilyRegistry::process().family(g.config.family());
  const std::int64_t m = params.m;
  const auto dims = launch_dims(g, m);
  codegen::GemmS8Params p = params;
  const WorkspaceLayout ws = family.workspace(g.spec, g.config, m);
  if (ws.bytes > workspace_bytes || (ws.bytes > 0 && p.workspace == nullptr))
    return Status(StatusCode::InvalidArgument, "workspace must hold " + std::to_string(ws.bytes) + " bytes for M = " +
                                                   std::to_string(m) + ", got " + std::to_string(workspace_bytes));
  if (ws.counters_bytes > 0) {
    // NOTE: the kernels leave their counters at zero, but the caller's workspace may hold anything before the first
    // launch; one memset on the same stream keeps run() stateless (no per-plan device memory, no first-run flag).
    QJIT_ASSIGN_OR_RETURN(const runtime::DriverApi* api, runtime::driver());
    p.tile_counters = reinterpret_cast<std::int32_t*>(static_cast<char*>(p.workspace) + ws.counters_offset);
    QJIT_CU(*api, cuMemsetD32Async, reinterpret_cast<runtime::CUdeviceptr>(p.tile_counters), 0u, ws.counters_bytes / 4,
            stream);
  }
  return family.launch_gemm(*g.kernel, dims, g.spec, g.config, p, stream, azp);
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
  b.operand_align = operand_align(config);
  return b;
}

unsigned operand_align(const codegen::TileConfig& config) {
  return FamilyRegistry::process().family(config.family()).operand_align();
}

Result<codegen::TileConfig> portable_config(const codegen::KernelSpec& spec, int sm_count) {
  const KernelFamilyRuntime& family = FamilyRegistry::process().portable_for(spec);
  CandidateOptions options;
  options.allow_split_k = false;
  options.sm_count = sm_count > 0 ? sm_count : 132;
  for (const codegen::TileConfig& c : family.candidates(spec, options)) {
    // NOTE: the bucket's largest M has the largest workspace (split-K scratch grows with the token tiles).
    if (family.workspace(spec, c, std::max(spec.m_bucket, 1)).bytes == 0) return c;
  }
  return Status(StatusCode::Internal,
                "the " + std::string(family.name()) + " family has no workspace-free config for " + spec.to_string());
}

Result<KernelBinding> bind_portable(const codegen::KernelSpec& spec, const runtime::DeviceInfo& device) {
  QJIT_ASSIGN_OR_RETURN(codegen::TileConfig config, portable_config(spec, device.sm_count));
  return bind_kernel_with(spec, config, device);
}

std::string family_reason(const codegen::KernelSpec& spec) {
  return FamilyRegistry::process().for_spec(spec).why_chosen(spec);
}

}  // namespace qjit::jit

// One kernel a plan launches: its spec, its chosen config, the loaded function and the rules its arguments must
// meet. Binding a (spec, config) is where codegen (render, launch geometry, through the family registry,
// jit/kernel_family.h) meets the JIT service (load). Choosing the config (heuristic, tuning database, autotuning) is
// the plans' step above this room: ops/config_choice.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codegen/kernel_params.h"
#include "codegen/kernel_spec.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "runtime/device.h"
#include "runtime/module.h"

namespace qjit::jit {

struct KernelBinding {
  codegen::KernelSpec spec;
  codegen::TileConfig config;
  std::shared_ptr<const runtime::LoadedKernel> kernel;
  std::string entry;
  unsigned operand_align = 1;  // bytes: pointer and row-stride alignment the kernel's loads need (16 on fast paths)
  int sm_count = 132;          // of the device it was bound for: the persistent Hopper grid is one CTA per SM
};

Result<codegen::Source> render(const codegen::KernelSpec& spec, const codegen::TileConfig& config);
runtime::LaunchDims launch_dims(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m,
                                int sm_count = 132);
inline runtime::LaunchDims launch_dims(const KernelBinding& k, std::int64_t m) {
  return launch_dims(k.spec, k.config, m, k.sm_count);
}
std::size_t kernel_workspace_bytes(const codegen::KernelSpec& spec, const codegen::TileConfig& config, std::int64_t m);

// Everything a GEMM launch needs besides the kernel: the family-specific parameter block (the plain GemmS8Params,
// or for Hopper the same with two TMA tensor maps in front), built on the caller's stack. `workspace` is the
// caller's (`workspace_bytes` of it, at least kernel_workspace_bytes at this M); the launch's split-K tile counters
// (WorkspaceLayout::counters_bytes of them, never the rest of the buffer) are zeroed on `stream` before the launch.
// A kernel with act_zero_point takes `azp` (the zero points and the weight column sums), any other none.
Status launch_gemm(const KernelBinding& gemm, const codegen::GemmS8Params& params, std::size_t workspace_bytes,
                   CUstream stream, const codegen::GemmAzpArgs* azp = nullptr);

// The pointer and row-stride alignment (bytes) the loads of `config`'s family need: 16 for the Hopper TMA family,
// 1 for families that realign any view (KernelFamilyRuntime::operand_align).
unsigned operand_align(const codegen::TileConfig& config);

// Renders `config` for `spec` and loads it on `device` (the plans' chosen configs, the autotuner's candidates).
Result<KernelBinding> bind_kernel_with(const codegen::KernelSpec& spec, const codegen::TileConfig& config,
                                       const runtime::DeviceInfo& device);

// The kernel for views `spec`'s chosen family cannot take (a TMA operand whose base or row stride is not a multiple
// of 16 bytes) when the plan cannot stage them into its workspace (ops/staging.h): the registry's portable family (FamilyRegistry::portable_for) with the first of its candidates, led
// by its heuristic, that needs no workspace, so a plan's workspace_size() covers it unchanged. Same arithmetic
// contract, so the same bits (tests/gpu/gemm_families_bitwise_test.cpp).
Result<KernelBinding> bind_portable(const codegen::KernelSpec& spec, const runtime::DeviceInfo& device);
// bind_portable's config, without loading (what `qjit warmup` compiles). sm_count <= 0: 132.
Result<codegen::TileConfig> portable_config(const codegen::KernelSpec& spec, int sm_count);

// The arch qjit compiles for on `device`: its own, which for Hopper means the sm_90a target.
inline int target_arch(const runtime::DeviceInfo& device) { return device.arch; }

// Why ops::choose_config serves `spec` with the family it does, in words for `qjit inspect` and logs: the Hopper wgmma
// family on sm_90a, else the portable family and what ruled Hopper out (arch, QJIT_DISABLE_SM90).
std::string family_reason(const codegen::KernelSpec& spec);

}  // namespace qjit::jit

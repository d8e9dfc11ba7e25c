// Config choice, the plans' step between a KernelSpec and its binding: PlanPreference picks the family's heuristic,
// the tuning database's record for this device (vetted against today's heuristic), or an autotuning run now whose
// winner is recorded. Lives in ops/ because it reaches all three rooms below (jit/ for the family registry,
// autotune/ for the tuning loop, ops/tuning_store for the process's database).
#pragma once

#include "codegen/kernel_spec.h"
#include "jit/kernel_binding.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "runtime/device.h"

namespace qjit::ops {

// The binding types and steps the plans use, from the jit/ room.
using jit::bind_kernel_with;
using jit::bind_portable;
using jit::family_reason;
using jit::kernel_workspace_bytes;
using jit::KernelBinding;
using jit::launch_dims;
using jit::launch_gemm;
using jit::operand_align;
using jit::portable_config;
using jit::render;
using jit::target_arch;

// The config for `spec` under `pref`: Heuristic -> the family's heuristic; Tuned -> the tuning database's record
// for this device (TuningStore), else the heuristic; Autotune -> times the candidates now (autotune/autotuner.h),
// records the winner, returns it.
Result<codegen::TileConfig> choose_config(const codegen::KernelSpec& spec, PlanPreference pref,
                                          const runtime::DeviceInfo& device);

// choose_config + render + load.
Result<KernelBinding> bind_kernel(const codegen::KernelSpec& spec, PlanPreference pref,
                                  const runtime::DeviceInfo& device);

}  // namespace qjit::ops

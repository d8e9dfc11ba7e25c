// The autotuner's search space per KernelSpec: a small, bucket-aware list of TileConfigs for the gemm_sm80 and
// quantize families. Every listed config passes validate_* for the spec; the heuristic's choice is always first.
#pragma once

#include <vector>

#include "codegen/kernel_spec.h"

namespace qjit::autotune {

struct CandidateOptions {
  // Split-K configs need gemm_s8_sm80_workspace_bytes() of workspace (partials + zeroed counters). Plans that
  // promise workspace_size() == 0 must leave this off.
  bool allow_split_k = false;
  int sm_count = 132;  // for the heuristic entry that leads the list
};

std::vector<codegen::TileConfig> candidate_configs(const codegen::KernelSpec& spec);
std::vector<codegen::TileConfig> candidate_configs(const codegen::KernelSpec& spec, const CandidateOptions& options);

}  // namespace qjit::autotune

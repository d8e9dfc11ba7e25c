// The untuned choice of TileConfig for a KernelSpec: a few rules per M bucket, used when the tuning database has no
// entry (and as the autotuner's first candidate). Rules are tuned for H100-class parts but hold on sm_80/89 too;
// every returned config passes its family's validate_* for the spec.
#pragma once

#include "codegen/kernel_spec.h"

namespace qjit::autotune {

// sm_count <= 0 means unknown (treated as 132, an H100 SXM). GEMM configs from this function never use split-K,
// so they need no workspace; the quantize config depends only on K and the input type.
codegen::TileConfig heuristic_config(const codegen::KernelSpec& spec, int sm_count);

}  // namespace qjit::autotune

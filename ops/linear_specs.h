// The kernels a linear plan launches, as KernelSpecs: QuantizedLinear needs the per-token quantize kernel and the
// GEMM with per-token scales; SmoothQuant needs only the GEMM with the static scale folded in; ScaledMatmul only the
// GEMM with its scale modes (per token: the QuantizedLinear GEMM itself). One function so the
// plans, `qjit warmup`, `qjit tune` and `qjit inspect` agree on exactly which kernels a layer needs.
#pragma once

#include <cstdint>
#include <optional>

#include "codegen/kernel_spec.h"
#include "qjit/element.h"

namespace qjit::ops {

struct LinearShape {
  bool smooth_quant = false;  // SmoothQuantLinearPlan (S8 activations, static scale) vs QuantizedLinearPlan
  std::int64_t m = 1, n = 0, k = 0;
  ElementKind activation = ElementKind::BF16;  // the FP input type (QuantizedLinear); ignored for SmoothQuant
  ElementKind output = ElementKind::BF16;
  bool has_bias = false;
  bool smooth = false;  // QuantizedLinear: the quantize pass multiplies x by a per-channel pre_quant_scale first
  // ScaledMatmulPlan (int8 activations like SmoothQuant, no quantize kernel), whose scales are device tensors: the
  // activation's per token [M] or per tensor [1], the weight's per channel [N] or per tensor [1].
  bool scaled_matmul = false;
  bool act_scale_per_tensor = false;
  bool weight_scale_per_tensor = false;
  // Asymmetric activations: the GEMM's azp epilogue; QuantizedLinear's quantize pass becomes the asymmetric one with
  // s8 codes (ScaledMatmul: per-token scales only).
  bool act_zero_point = false;
};

struct LinearKernelSpecs {
  std::optional<codegen::KernelSpec> quantize;  // QuantizedLinear only
  codegen::KernelSpec gemm;
};

LinearKernelSpecs linear_kernel_specs(const LinearShape& shape, int arch);

}  // namespace qjit::ops

// The GEMM core every int8 linear plan is built on: QuantizedLinearPlan (a quantize pass, then this GEMM),
// SmoothQuantLinearPlan (this GEMM with a static activation scale) and ScaledMatmulPlan (this GEMM with the caller's
// device scales, per token or per tensor, per channel or per tensor). One memoised core per descriptor: the bound
// GEMM (and the quantize kernel where the plan has one), the portable fallback for views the GEMM's loads cannot
// take, and the launch of the GEMM with one call's operands. Private to ops/ (the plans' .cpp files and c_api.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "codegen/kernel_params.h"
#include "ops/config_choice.h"
#include "ops/views.h"
#include "qjit/element.h"
#include "qjit/status.h"
#include "qjit/stream.h"
#include "runtime/device.h"

namespace qjit::detail {

class LinearCore {
 public:
  bool smooth_quant = false;   // no quantize pass: the activation arrives as int8 (SmoothQuant and ScaledMatmul)
  bool scaled_matmul = false;  // ScaledMatmulPlan: the scales are the caller's device tensors
  std::int64_t m_hint = 0, n = 0, k = 0;
  ElementKind act_element = ElementKind::S8;
  ElementKind out_element = ElementKind::F32;
  bool has_bias = false;
  bool has_smooth = false;  // QuantizedLinear: the quantize pass divides by pre_quant_scale[k] first
  float act_scale = 1.0f;   // SmoothQuant: the static per-tensor activation scale
  bool act_per_tensor = false;     // ScaledMatmul: act_scale is a device [1] tensor (else [M])
  bool weight_per_tensor = false;  // ScaledMatmul: weight_scale is a device [1] tensor (else [N])
  // Asymmetric activations: the GEMM's azp epilogue (ScaledMatmul: the caller's zero points; QuantizedLinear: its
  // asymmetric quantize pass writes them into the workspace, ahead of the GEMM's own).
  bool act_zero_point = false;
  ops::KernelBinding quantize;     // QuantizedLinear only
  ops::KernelBinding gemm;
  // The portable GEMM for views gemm's loads cannot take (gemm.operand_align() > 1 and a TMA operand's base or row
  // stride is not a multiple of it): bound at select when K's contiguous rows are such a view (K % 16 != 0), else
  // on the first run that needs it. Same arithmetic contract, so the same bits; it needs no workspace.
  struct Portable {
    std::mutex mu;
    std::optional<ops::KernelBinding> binding;
  };
  std::shared_ptr<Portable> portable = std::make_shared<Portable>();
  runtime::DeviceInfo device;
  std::string description;
};

// The core for `proto`'s descriptor fields (everything above `quantize`), built once per descriptor, preference and
// context: binds the kernels the plan needs (ops/linear_specs.h) and fills in the description.
Result<std::shared_ptr<const LinearCore>> get_or_build_core(const LinearCore& proto, PlanPreference pref,
                                                            const runtime::DeviceInfo& device);

// The GEMM kernel for this call's int8 views: the core's own, or the portable one where a TMA operand is misaligned.
Result<const ops::KernelBinding*> gemm_for(const LinearCore& c, const MatrixView& act_q, const MatrixView& weight);

// The GEMM's workspace need for M rows on `gemm`, checked against the caller's workspace (InvalidArgument naming
// both numbers when too small).
Result<std::size_t> check_gemm_workspace(const ops::KernelBinding& gemm, std::int64_t m, Workspace ws);

}  // namespace qjit::detail

// The GEMM core every int8 linear plan is built on: QuantizedLinearPlan (a quantize pass, then this GEMM),
// SmoothQuantLinearPlan (this GEMM with a static activation scale) and ScaledMatmulPlan (this GEMM with the caller's
// device scales, per token or per tensor, per channel or per tensor). One memoised core per descriptor: the bound
// GEMM (and the quantize kernel where the plan has one), the route of one call's int8 operands to it (in place,
// staged into the workspace, or the portable kernel for views the GEMM's loads cannot take: ops/staging.h), and the
// plans' workspace size. Private to ops/ (the plans' .cpp files and c_api.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "codegen/kernel_params.h"
#include "ops/config_choice.h"
#include "ops/staging.h"
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
  bool has_smooth = false;         // QuantizedLinear: the quantize pass divides by pre_quant_scale[k] first
  float act_scale = 1.0f;          // SmoothQuant: the static per-tensor activation scale
  bool act_per_tensor = false;     // ScaledMatmul: act_scale is a device [1] tensor (else [M])
  bool weight_per_tensor = false;  // ScaledMatmul: weight_scale is a device [1] tensor (else [N])
  // Asymmetric activations: the GEMM's azp epilogue (ScaledMatmul: the caller's zero points; QuantizedLinear: its
  // asymmetric quantize pass writes them into the workspace, ahead of the GEMM's own).
  bool act_zero_point = false;
  ops::KernelBinding quantize;  // QuantizedLinear only
  ops::KernelBinding gemm;
  // A kernel bound on the first run that needs it (the core is shared and const: the binding is guarded).
  struct LazyKernel {
    std::mutex mu;
    std::optional<ops::KernelBinding> binding;
    std::atomic<bool> logged{false};  // the portable GEMM: its first run logs why (a warning: 7-15x slower)
  };
  // The portable GEMM for views gemm's loads cannot take (gemm.operand_align() > 1 and a TMA operand's base or row
  // stride is not a multiple of it) when they cannot be staged either (the workspace lacks the room): bound on the
  // first run that needs it (the staged path is the default, so neither select nor `qjit warmup` compiles it). Same
  // arithmetic contract, so the same bits; it needs no workspace.
  std::shared_ptr<LazyKernel> portable = std::make_shared<LazyKernel>();
  // The staging copy (codegen/stage_rows.h, the heuristic config) for the staged path: bound at select when every
  // call stages (ops::stages_by_default: K % 16 != 0 on the Hopper family), else on the first call that stages (a
  // sliced view such as an act_q of row stride 4104).
  std::shared_ptr<LazyKernel> stage = std::make_shared<LazyKernel>();
  runtime::DeviceInfo device;
  std::string description;
};

// The core for `proto`'s descriptor fields (everything above `quantize`), built once per descriptor, preference and
// context: binds the kernels the plan needs (ops/linear_specs.h) and fills in the description.
Result<std::shared_ptr<const LinearCore>> get_or_build_core(const LinearCore& proto, PlanPreference pref,
                                                            const runtime::DeviceInfo& device);

// The plan's workspace at M = m: `head` bytes (QuantizedLinear asymmetric's zero points), the GEMM's own (split-K
// scratch), and, where the GEMM stages by default (ops::stages_by_default: K % 16 != 0 on the Hopper family), both
// staged regions (qjit::staged_rows_bytes).
std::size_t linear_workspace_size(const LinearCore& c, std::size_t head, std::int64_t m);

// The output row stride the GEMM gets: the view's, except for one row, whose stride is never followed
// (can_implement does not check it) and which gets N, since the Hopper encoder refuses ldc < N.
inline std::int64_t gemm_ldc(const MatrixView& output, std::int64_t n) {
  return output.rows == 1 && output.row_stride < n ? n : output.row_stride;
}

// One call's GEMM after routing: the kernel, what it reads as A and B, and its own workspace.
struct GemmOperands {
  const ops::KernelBinding* gemm = nullptr;
  const void* a = nullptr;
  std::int64_t lda = 0;
  const void* b = nullptr;
  std::int64_t ldb = 0;
  void* workspace = nullptr;  // the kernel's split-K scratch (launch_gemm's), nullptr when it needs none
  std::size_t workspace_bytes = 0;
  ops::GemmPath path = ops::GemmPath::Direct;
};

// Routes one call (ops::route_gemm over the caller's workspace, whose first `head` bytes the plan uses itself) and
// enqueues its staging copies on `stream`: the weight's first, then the activation's unless `act_from_quantize`
// (QuantizedLinear: its pass writes A itself, at the returned a / lda, which are the staged region or the caller's
// act_q_scratch). Each copy is one launch of the staging kernel (c.stage, bound here on first use when select did
// not). A workspace without room for staging takes the portable kernel (bound here on first use). Errors name the
// caller's fields.
Result<GemmOperands> prepare_gemm(const LinearCore& c, std::int64_t m, const MatrixView& act, bool act_from_quantize,
                                  const MatrixView& weight, std::size_t head, Workspace ws, CUstream stream);

}  // namespace qjit::detail

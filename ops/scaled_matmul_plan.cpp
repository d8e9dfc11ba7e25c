// ScaledMatmulPlan: descriptor validation, argument checks and the launch, over the linear plans' GEMM core
// (linear_core.h). One GEMM launch with the caller's device scales: per token ([M]) -> the QuantizedLinear GEMM
// itself; per tensor ([1]) -> the same family with a_scale[0] read on the device; a per-tensor weight scale -> the
// epilogue reading b_scale[0] (codegen's scale modes). Every message names the caller's field and the expected value.
#include <cmath>
#include <cstdint>

#include "codegen/kernel_params.h"
#include "llvm/Support/FormatVariadic.h"
#include "ops/linear_core.h"
#include "ops/plan_core.h"
#include "ops/validate.h"

namespace qjit::detail {

namespace {

const char* act_mode_name(ActScaleMode m) {
  return m == ActScaleMode::PerToken ? "per_token" : m == ActScaleMode::PerTensor ? "per_tensor" : "?";
}
const char* weight_mode_name(WeightScaleMode m) {
  return m == WeightScaleMode::PerChannel ? "per_channel" : m == WeightScaleMode::PerTensor ? "per_tensor" : "?";
}

}  // namespace

std::string descriptor_text(const ScaledMatmulDescriptor& d) {
  return llvm::formatv("scaled_matmul m={0} n={1} k={2} act={3} weight={4} out={5} act_scale={6} weight_scale={7}{8}{9}",
                       d.m, d.n, d.k, element_name(d.activation_element), element_name(d.weight_element),
                       element_name(d.output_element), act_mode_name(d.act_scale), weight_mode_name(d.weight_scale),
                       d.has_bias ? " bias" : "", d.has_act_zero_point ? " act_zero_point" : "")
      .str();
}

Result<std::shared_ptr<const LinearCore>> select_scaled_matmul(const Stream&, const ScaledMatmulDescriptor& d,
                                                               PlanPreference pref) {
  QJIT_TRY(ops::check_dims(d.m, d.n, d.k));
  QJIT_TRY(check_element(d.activation_element, ElementKind::S8, "descriptor.activation_element"));
  QJIT_TRY(check_element(d.weight_element, ElementKind::S8, "descriptor.weight_element"));
  if (d.output_element != ElementKind::F16 && d.output_element != ElementKind::BF16 &&
      d.output_element != ElementKind::F32)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("descriptor.output_element must be f16, bf16 or f32, got {0}",
                                element_name(d.output_element))
                      .str());
  if (d.act_scale != ActScaleMode::PerToken && d.act_scale != ActScaleMode::PerTensor)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("descriptor.act_scale must be per_token (0) or per_tensor (1), got {0}",
                                static_cast<std::int32_t>(d.act_scale))
                      .str());
  if (d.weight_scale != WeightScaleMode::PerChannel && d.weight_scale != WeightScaleMode::PerTensor)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("descriptor.weight_scale must be per_channel (0) or per_tensor (1), got {0}",
                                static_cast<std::int32_t>(d.weight_scale))
                      .str());
  if (d.has_act_zero_point && d.act_scale != ActScaleMode::PerToken)
    return Status(StatusCode::InvalidArgument,
                  "descriptor.act_scale must be per_token (0) with has_act_zero_point (a zero point per token needs "
                  "its own scale), got per_tensor");
  QJIT_ASSIGN_OR_RETURN(runtime::DeviceInfo device, runtime::current_device());
  LinearCore core;
  core.smooth_quant = true;  // int8 activations: no quantize pass
  core.scaled_matmul = true;
  core.m_hint = d.m;
  core.n = d.n;
  core.k = d.k;
  core.act_element = ElementKind::S8;
  core.out_element = d.output_element;
  core.has_bias = d.has_bias;
  core.act_per_tensor = d.act_scale == ActScaleMode::PerTensor;
  core.weight_per_tensor = d.weight_scale == WeightScaleMode::PerTensor;
  core.act_zero_point = d.has_act_zero_point;
  auto made = get_or_build_core(core, pref, device);
  if (!made.has_value()) return made.error().with_context(descriptor_text(d));
  return made;
}

Status can_implement(const LinearCore& c, const ScaledMatmulCall& a) {
  if (!c.scaled_matmul) return Status(StatusCode::InvalidArgument, "plan must be a scaled_matmul plan");
  const std::int64_t m = a.output.rows;
  if (m < 1 || m >= ops::kMaxDim)
    return Status(StatusCode::InvalidArgument,
                  llvm::formatv("output.shape[0] (M) must be in [1, 2^31), got {0}", m).str());
  // NOTE: natural element alignment only: views the chosen family's loads cannot take are staged into the
  // workspace or run on the portable kernel (ops/staging.h); run() refuses none of them.
  QJIT_TRY(ops::check_matrix(a.act_q, "act_q", m, "M", c.k, "K", ElementKind::S8, 1));
  QJIT_TRY(ops::check_matrix(a.weight_q, "weight_q", c.n, "N", c.k, "K", ElementKind::S8, 1));
  if (c.act_per_tensor)
    QJIT_TRY(ops::check_vector(a.act_scale, "act_scale", 1, "1 (act_scale = per_tensor)", ElementKind::F32));
  else
    QJIT_TRY(ops::check_vector(a.act_scale, "act_scale", m, "M", ElementKind::F32));
  if (c.weight_per_tensor)
    QJIT_TRY(ops::check_vector(a.weight_scale, "weight_scale", 1, "1 (weight_scale = per_tensor)", ElementKind::F32));
  else
    QJIT_TRY(ops::check_vector(a.weight_scale, "weight_scale", c.n, "N", ElementKind::F32));
  if (c.has_bias)
    QJIT_TRY(ops::check_vector(a.bias, "bias", c.n, "N", c.out_element));
  else
    QJIT_TRY(ops::check_absent(a.bias, "bias", "the descriptor has has_bias = false"));
  QJIT_TRY(ops::check_matrix(a.output, "output", m, "M", c.n, "N", c.out_element, 1));
  if (c.act_zero_point) {
    QJIT_TRY(ops::check_vector(a.act_zero_point, "act_zero_point", m, "M", ElementKind::S32));
    QJIT_TRY(ops::check_vector(a.weight_colsum, "weight_colsum", c.n, "N", ElementKind::S32));
  } else {
    QJIT_TRY(ops::check_absent(a.act_zero_point, "act_zero_point", "the descriptor has has_act_zero_point = false"));
    QJIT_TRY(ops::check_absent(a.weight_colsum, "weight_colsum", "the descriptor has has_act_zero_point = false"));
  }
  return Status();
}

Status run(const LinearCore& c, const Stream& stream, Workspace ws, const ScaledMatmulCall& a) {
  QJIT_TRY(can_implement(c, a));
  const std::int64_t m = a.output.rows;
  // The int8 operands in place, staged into the workspace (their copies enqueued here), or the portable kernel.
  QJIT_ASSIGN_OR_RETURN(const GemmOperands g, prepare_gemm(c, m, a.act_q, false, a.weight_q, 0, ws, stream.handle()));
  codegen::GemmS8Params p{};
  p.a = g.a;
  p.lda = g.lda;
  p.b = g.b;
  p.ldb = g.ldb;
  // Per token: a_scale[m]; per tensor: the kernel reads a_scale[0] (spec.device_act_scale), never a_scale_value.
  p.a_scale = static_cast<const float*>(a.act_scale.data);
  p.a_scale_value = 0.0f;
  p.b_scale = static_cast<const float*>(a.weight_scale.data);
  p.bias = c.has_bias ? a.bias.data : nullptr;
  p.c = const_cast<void*>(a.output.data);
  p.ldc = gemm_ldc(a.output, c.n);
  p.m = static_cast<std::int32_t>(m);
  p.workspace = g.workspace;
  if (c.act_zero_point) {
    const codegen::GemmAzpArgs azp{static_cast<const std::int32_t*>(a.act_zero_point.data),
                                   static_cast<const std::int32_t*>(a.weight_colsum.data)};
    return ops::launch_gemm(*g.gemm, p, g.workspace_bytes, stream.handle(), &azp);
  }
  return ops::launch_gemm(*g.gemm, p, g.workspace_bytes, stream.handle());
}

}  // namespace qjit::detail
